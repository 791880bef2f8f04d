# Copyright (c) mmbnn contributors. All rights reserved.
"""The RoI box head on OpenVINO (mmbnn.deploy.openvino_roi_head) and
benchmark_detector.py --roi-head-openvino: the FP32 box head computes the
PyTorch head's outputs and detections, the INT8 one runs its FCs in INT8
close to the float outputs, zero RoIs need no inference, every OpenVINO
variant gets a box head of its own precision, and the option is refused
without --backend openvino. Random-weight demo Faster R-CNNs, small
inputs."""
import copy
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import pytest
import torch

from mmbnn.analysis.benchmark_detector import (PERF_COUNT_KEY,
                                               check_openvino_only,
                                               format_profiles,
                                               openvino_variants,
                                               prepare_batch,
                                               profile_variants)
from mmbnn.deploy import convert_to_deploy
from mmbnn.deploy import openvino as ovd
from mmbnn.deploy.int8 import runtime_precision_report
from mmbnn.deploy.loading import build_detector, load_config
from mmbnn.deploy.openvino_graph import compile_model
from mmbnn.deploy.openvino_roi_head import (OpenVINOBoxHead,
                                            collect_roi_features,
                                            use_openvino_box_head)

from ..conftest import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools/analysis_tools/benchmark_detector.py')
IMAGE = osp.join(REPO_ROOT, 'resources/glyph_bench_samples.jpg')
BINARY = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')
FP = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_fp_demo.py')
# the demo box head's four FCs: two shared, fc_cls, fc_reg
NUM_FCS = 4
# INT8 box head vs float: RMS of the difference over RMS of the float
# outputs, per output (measured on the sample image, binary demo: 0.013
# for cls_score, 0.015 for bbox_pred)
INT8_REL_RMS = 0.05


def _model(config: str) -> tuple:
    cfg = load_config(config)
    torch.manual_seed(0)
    return cfg, build_detector(cfg).eval()


def _image_batch(model, cfg) -> dict:
    """The sample image (a 64x96 crop of it) through the config's test
    pipeline and the model's data preprocessor."""
    from mmcv.transforms import Compose
    from mmdet.utils import get_test_pipeline_cfg
    from mmengine.dataset import pseudo_collate
    pipeline = get_test_pipeline_cfg(cfg).copy()
    pipeline[0] = dict(pipeline[0], type='mmdet.LoadImageFromNDArray')
    image = cv2.resize(cv2.imread(IMAGE), (96, 64),
                       interpolation=cv2.INTER_AREA)
    sample = Compose(pipeline)(dict(img=image, img_id=0))
    with torch.no_grad():
        return model.data_preprocessor(pseudo_collate([sample]), False)


@pytest.fixture(scope='module')
def binary_detector(tmp_path_factory):
    """An OpenVINODetector of the binary demo Faster R-CNN (network with
    BinaryConvolution layers; RoI head in PyTorch), its batch of the
    sample image and the RoI features its box head receives."""
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmdet')
    cfg, model = _model(BINARY)
    batch = _image_batch(model, cfg)
    deploy = convert_to_deploy(model, backend='reference')
    detector = ovd.OpenVINODetector.from_detector(
        deploy, tuple(batch['inputs'].shape[2:]),
        str(tmp_path_factory.mktemp('roi_head')), threads=1)
    feats = collect_roi_features(detector, batch['inputs'],
                                 batch['data_samples'])
    DefaultScope._instance_dict.clear()
    return detector, batch, feats


def _copy(detector):
    """Another OpenVINODetector on the same compiled network, with its own
    copy of the PyTorch detector (so its box head can be replaced)."""
    return ovd.OpenVINODetector(copy.deepcopy(detector.detector),
                                detector.network.compiled,
                                info=detector.info)


def _rel_rms(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got - expected).pow(2).mean().sqrt() /
            expected.pow(2).mean().sqrt()).item()


def test_fp32_box_head_equals_pytorch(binary_detector):
    detector, batch, feats = binary_detector
    assert len(feats) == 1 and feats[0].shape[1:] == (256, 7, 7)
    assert feats[0].shape[0] > 0
    with torch.no_grad():
        expected_outs = detector.roi_head.bbox_head(feats[0])
        expected = detector.predict(batch['inputs'],
                                    copy.deepcopy(batch['data_samples']))
    ov_detector = _copy(detector)
    head = use_openvino_box_head(ov_detector, threads=1)
    assert ov_detector.roi_head.bbox_head is head
    assert ov_detector.detector.roi_head.bbox_head is head
    assert runtime_precision_report(head.compiled)['int8'] == []
    outs = head(feats[0])
    for got, want in zip(outs, expected_outs):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    got = ov_detector.predict(batch['inputs'],
                              copy.deepcopy(batch['data_samples']))
    got, want = got[0].pred_instances, expected[0].pred_instances
    assert len(want) > 0 and len(got) == len(want)
    torch.testing.assert_close(got.bboxes, want.bboxes, rtol=0, atol=1e-3)
    assert torch.equal(got.labels, want.labels)
    # the post-processing is still the PyTorch head's
    assert head.predict_by_feat.__self__ is head.torch_head


def test_int8_box_head(binary_detector):
    detector, _, feats = binary_detector
    with torch.no_grad():
        expected = detector.roi_head.bbox_head(feats[0])
    head = use_openvino_box_head(_copy(detector), threads=1,
                                 int8=True, calib_feats=feats)
    report = runtime_precision_report(head.compiled)
    assert len(report['int8']) == NUM_FCS and report['fp32'] == []
    for got, want in zip(head(feats[0]), expected):
        assert _rel_rms(got, want) < INT8_REL_RMS
    with pytest.raises(ValueError, match='calibration RoI features'):
        use_openvino_box_head(_copy(detector), int8=True,
                              calib_feats=[feats[0][:0]])


def test_saved_box_head_network_is_reused_and_checked(binary_detector,
                                                      tmp_path):
    """A saved INT8 box head read back (``network=``) gives the same
    outputs; one of a head with other widths is refused, naming both."""
    from mmbnn.deploy.openvino_graph import save_openvino
    detector, _, feats = binary_detector
    head = use_openvino_box_head(_copy(detector), threads=1, int8=True,
                                 calib_feats=feats)
    path = str(tmp_path / 'box_head_int8.xml')
    save_openvino(head.model, path)
    again = use_openvino_box_head(_copy(detector), threads=1, network=path)
    assert len(runtime_precision_report(again.compiled)['int8']) == NUM_FCS
    for got, want in zip(again(feats[0]), head(feats[0])):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    other = _copy(detector)
    torch_head = other.roi_head.bbox_head
    torch_head.fc_cls = torch.nn.Linear(torch_head.fc_cls.in_features, 3)
    with pytest.raises(ValueError, match=r'box_head_int8\.xml does not fit '
                       r'this detector: output widths \[\d+, \d+\], the '
                       r'head gives \[3, '):
        use_openvino_box_head(other, network=path)


def test_zero_rois_need_no_inference(binary_detector):
    detector, _, feats = binary_detector
    head = use_openvino_box_head(_copy(detector), threads=1)
    assert isinstance(head, OpenVINOBoxHead)

    class NoInference:

        def infer(self, *args, **kwargs):
            raise AssertionError('inference on zero RoIs')

    head.request = NoInference()
    cls_score, bbox_pred = head(feats[0][:0])
    num_classes = head.num_classes  # the PyTorch head's
    assert cls_score.shape == (0, num_classes + 1)
    assert bbox_pred.shape == (0, 4 * num_classes)
    assert cls_score.dtype == bbox_pred.dtype == torch.float32


def test_variants_box_head_precision(tmp_path):
    """Every two-stage variant runs its box head on OpenVINO in its own
    precision."""
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmdet')
    models = []
    for config in (FP, BINARY):
        cfg, model = _model(config)
        batch = prepare_batch(model, cfg, (64, 64), 1)
        batch['inputs'] = batch['inputs'][..., :64, :64].contiguous()
        models += [model, batch]
    variants = openvino_variants(*models, str(tmp_path), threads=1,
                                 int8=True, roi_head_openvino=True)
    DefaultScope._instance_dict.clear()
    # the given detectors keep their PyTorch box heads (each variant swaps
    # the head of its own copy)
    for model in models[::2]:
        assert not isinstance(model.roi_head.bbox_head, OpenVINOBoxHead)
    assert list(variants) == ['FP32 (OpenVINO)', 'INT8 (OpenVINO)',
                              'binary (OpenVINO)', 'binary+INT8 (OpenVINO)']
    for name, (model, batch) in variants.items():
        assert isinstance(model.roi_head.bbox_head, OpenVINOBoxHead), name
        report = model.box_head_precision_report
        precision = 'int8' if 'INT8' in name else 'fp32'
        assert len(report[precision]) == NUM_FCS, (name, report)
        assert report['binary'] == [], name
        with torch.no_grad():
            results = model.predict(batch['inputs'], batch['data_samples'])
        assert model.roi_head.bbox_head.last_input is not None, name
        assert results[0].pred_instances.bboxes.shape[1] == 4


def test_profile_includes_box_head(binary_detector):
    """profile_variants adds the box head's layers as one more part."""
    detector, batch, feats = binary_detector
    variant = _copy(detector)
    head = use_openvino_box_head(variant, threads=1, int8=True,
                                 calib_feats=feats)
    variant.profiled_network = compile_model(
        osp.join(detector.export_dir, 'detector.onnx'), 1,
        **{PERF_COUNT_KEY: True})
    variant.profiled_box_head = compile_model(head.model, 1,
                                              **{PERF_COUNT_KEY: True})
    with torch.no_grad():
        variant.predict(batch['inputs'], copy.deepcopy(batch['data_samples']))
    profile = profile_variants(dict(binary=(variant, batch)),
                               runs=1)['binary']
    head_layers = [layer for layer in profile['layers']
                   if layer['name'].startswith('box_head/')]
    assert head_layers and 0 < profile['box_head_ms'] < profile['total_ms']
    assert sum(layer['category'] == 'INT8 conv/FC'
               for layer in head_layers) == NUM_FCS
    assert sum(c['layers'] for c in profile['categories'].values()) == len(
        profile['layers'])
    assert profile['categories']['BinaryConvolution']['layers'] > 0
    assert '| of which RoI box head |' in format_profiles(
        dict(binary=profile))


def test_profile_box_head_on_the_first_image(binary_detector, monkeypatch):
    """With a batch of copies of one image, the box head is profiled on
    the first image's RoIs, as the network is on the first image."""
    import mmbnn.analysis.benchmark_detector as bench
    detector, batch, feats = binary_detector
    variant = _copy(detector)
    head = use_openvino_box_head(variant, threads=1)
    variant.profiled_network = compile_model(
        osp.join(detector.export_dir, 'detector.onnx'), 1,
        **{PERF_COUNT_KEY: True})
    variant.profiled_box_head = compile_model(head.model, 1,
                                              **{PERF_COUNT_KEY: True})
    batch3 = dict(inputs=batch['inputs'].repeat(3, 1, 1, 1),
                  data_samples=[copy.deepcopy(batch['data_samples'][0])
                                for _ in range(3)])
    with torch.no_grad():
        variant.predict(batch3['inputs'], batch3['data_samples'])
    # the head ran once on the RoIs of all three copies, image by image
    one_image = torch.cat(list(feats)).float().numpy()
    np.testing.assert_allclose(head.last_input,
                               np.concatenate([one_image] * 3), atol=1e-4)
    shapes = []
    original = bench.profile_network

    def recording(compiled, inputs, runs=5):
        shapes.append(inputs[0].shape)
        return original(compiled, inputs, runs)

    monkeypatch.setattr(bench, 'profile_network', recording)
    profile_variants(dict(binary=(variant, batch3)), runs=1)
    assert shapes[0][0] == 1
    assert shapes[1] == one_image.shape


def test_roi_head_openvino_refused_without_openvino(monkeypatch):
    with pytest.raises(ValueError, match="--roi-head-openvino needs "
                       "--backend openvino.*'torch', 'openvino'"):
        check_openvino_only('--roi-head-openvino', True, 'torch')
    check_openvino_only('--roi-head-openvino', False, 'torch')
    check_openvino_only('--roi-head-openvino', True, 'openvino')
    main = runpy.run_path(TOOL)['main']
    # refused before any model is built
    monkeypatch.setattr(sys, 'argv', [TOOL, BINARY, '--fp-config', FP,
                                      '--roi-head-openvino'])
    with pytest.raises(ValueError, match='--roi-head-openvino needs'):
        main()


def test_single_stage_and_cascade_detectors_are_refused():
    from mmbnn.deploy.openvino_roi_head import box_head_error
    with pytest.raises(ValueError, match='two-stage'):
        use_openvino_box_head(torch.nn.Module())
    cascade = torch.nn.Module()
    cascade.roi_head = torch.nn.Module()
    cascade.roi_head.bbox_head = torch.nn.ModuleList(
        torch.nn.Linear(2, 2) for _ in range(3))
    assert box_head_error(cascade) == (
        'Module has 3 box heads (a cascade); the OpenVINO box head supports '
        'one')
    with pytest.raises(ValueError, match='a cascade'):
        use_openvino_box_head(cascade)
