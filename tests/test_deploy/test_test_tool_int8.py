# Copyright (c) mmbnn contributors. All rights reserved.
"""``tools/test.py --deploy-backend openvino --int8`` and
``--openvino-model``: the binary demo Faster R-CNN (random weights, two
128x128 demo test images, two calibration images) is quantized and
evaluated with the config's metric; its INT8 IR given back with
``--openvino-model`` gives the same metric; ``--roi-head-openvino`` adds an
INT8 box head calibrated on those images; an IR of another config is
refused with its differences named; options that do not apply are refused
before anything is built."""
import os.path as osp
import re
import runpy
import subprocess
import sys

import pytest
import torch

from mmbnn.apis.launch import build_runner
from mmbnn.datasets import generate_demo_dataset
from mmbnn.deploy import build_detector, load_config
from mmbnn.deploy import openvino as ovd

from ..conftest import REPO_ROOT

TEST_TOOL = osp.join(REPO_ROOT, 'tools/test.py')
CONFIG = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')
OTHER_CONFIG = osp.join(REPO_ROOT, 'configs/demo/ssd_vgg16_ste_demo.py')
CALIB_IMAGES = 2


def _options(data_root):
    return {
        f'{key}.dataset.data_root': f'{data_root}/VOCdevkit/'
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    }


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('test_int8')
    data = str(root / 'data')
    generate_demo_dataset(data, num_trainval=1, num_test=2)
    torch.manual_seed(0)
    model = build_detector(load_config(CONFIG))
    checkpoint = str(root / 'ste.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    return root, data, checkpoint


@pytest.fixture
def test_main(monkeypatch):
    # tools/test.py sets LOCAL_RANK when it is absent; keep it local
    monkeypatch.setenv('LOCAL_RANK', '0')
    return runpy.run_path(TEST_TOOL)['main']


@pytest.mark.parametrize('flags,error,match', [
    (['--int8'], ValueError,
     '--int8 applies to --deploy-backend openvino only; got '
     '--deploy-backend auto'),
    (['--deploy-backend', 'float64', '--openvino-model', 'x.xml'],
     ValueError, '--openvino-model applies to --deploy-backend openvino '
     'only; got --deploy-backend float64'),
    (['--deploy-backend', 'openvino', '--calib-images', '4'], ValueError,
     '--calib-images applies to --int8 only'),
    (['--deploy-backend', 'openvino', '--int8-scope', 'all'], ValueError,
     '--int8-scope applies to --int8 only'),
    (['--deploy-backend', 'openvino', '--int8', '--openvino-model',
      'x.xml'], ValueError, 'give one of them'),
    (['--deploy-backend', 'openvino', '--int8', '--openvino-shape',
      'per-input'], ValueError, r'--openvino-shape per-input is not allowed '
     r'\(allowed: fixed'),
    (['--deploy-backend', 'openvino', '--openvino-model', 'missing.xml'],
     ValueError, 'must be an existing OpenVINO IR .xml'),
    (['--roi-head-openvino'], ValueError, '--roi-head-openvino applies to '
     '--deploy-backend openvino only; got --deploy-backend auto'),
    (['--deploy-backend', 'openvino', '--int8', '--launcher', 'pytorch'],
     RuntimeError, r'--deploy-backend openvino --int8 is tested in one '
     r'process on CPU; got --launcher pytorch \(allowed: --launcher none\)'),
])
def test_cli_refuses_options_that_do_not_apply(test_main, tmp_path, flags,
                                               error, match):
    with pytest.raises(error, match=match):
        test_main([CONFIG, 'none.pth', '--work-dir', str(tmp_path), *flags])


def test_int8_evaluation_and_prebuilt_model(setup):
    root, data, checkpoint = setup
    options = _options(data)
    work_dir = root / 'int8'
    proc = subprocess.run(
        [sys.executable, TEST_TOOL, CONFIG, checkpoint, '--work-dir',
         str(work_dir), '--deploy-backend', 'openvino', '--int8',
         '--calib-images', str(CALIB_IMAGES), '--openvino-threads', '1',
         '--cfg-options', *(f'{k}={v}' for k, v in options.items())],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.findall(r'pascal_voc/mAP: ([0-9.]+)',
                       proc.stdout + proc.stderr)
    assert found, proc.stdout[-2000:]
    xml = str(work_dir / 'openvino' / ovd.INT8_MODEL_NAME)
    info = ovd.read_export_info(xml)
    assert info['int8'] == dict(calib_images=CALIB_IMAGES,
                                scope='after_binary')

    # the same IR as a prebuilt model: the same metric
    runner = build_runner(CONFIG, 'test', checkpoint=checkpoint,
                          work_dir=str(root / 'prebuilt'),
                          cfg_options=options, deploy_backend='openvino',
                          openvino_model=xml, openvino_threads=1)
    assert isinstance(runner.model, ovd.OpenVINODetector)
    assert runner.model.info['int8'] == dict(calib_images=CALIB_IMAGES,
                                             scope='after_binary')
    metrics = runner.test()
    assert metrics['pascal_voc/mAP'] == pytest.approx(float(found[-1]),
                                                      abs=1e-4)


def test_prebuilt_model_of_another_config_is_refused(setup):
    root, data, checkpoint = setup
    onnx_path = str(root / 'ssd.onnx')
    ovd.export_onnx(ovd.load_detector(OTHER_CONFIG), onnx_path, (128, 128))
    xml = str(root / 'ssd.xml')
    ovd.save_openvino(ovd.onnx_to_openvino(onnx_path), xml)
    with pytest.raises(ValueError, match=r'--openvino-model .*ssd\.xml is '
                       r'not an export of this config .*export info '
                       r'layout is'):
        build_runner(CONFIG, 'test', checkpoint=checkpoint,
                     work_dir=str(root / 'mismatch'),
                     cfg_options=_options(data),
                     deploy_backend='openvino', openvino_model=xml)


def test_int8_box_head_evaluation(setup, monkeypatch):
    """``--roi-head-openvino --int8``: the box head's FCs run in INT8,
    calibrated on at most ``CALIB_ROIS_PER_IMAGE`` RoIs of each calibration
    image and saved beside the INT8 network; that network as
    ``--openvino-model`` reuses the saved head, and one without a saved
    head beside it is calibrated on the IR's own number of images."""
    import shutil
    from mmbnn.deploy import openvino_roi_head
    from mmbnn.deploy.int8 import runtime_precision_report
    root, data, checkpoint = setup
    calibrated = []
    build = openvino_roi_head.build_box_head_network

    def recording_build(head, path, calib_feats=None, int8=False):
        calibrated.append(calib_feats)
        return build(head, path, calib_feats, int8)

    monkeypatch.setattr(openvino_roi_head, 'build_box_head_network',
                        recording_build)

    def runner(name, **kwargs):
        return build_runner(CONFIG, 'test', checkpoint=checkpoint,
                            work_dir=str(root / name),
                            cfg_options=_options(data),
                            deploy_backend='openvino', openvino_threads=1,
                            roi_head_openvino=True, **kwargs)

    def int8_fcs(runner):
        head = runner.model.roi_head.bbox_head
        assert isinstance(head, openvino_roi_head.OpenVINOBoxHead)
        report = runtime_precision_report(head.compiled)
        assert report['fp32'] == []
        return len(report['int8'])

    first = runner('box_head', int8=True, calib_images=CALIB_IMAGES)
    assert int8_fcs(first) == 4
    # one RoI batch per calibration image, each of the head's input size
    feats, = calibrated
    head = first.model.roi_head.bbox_head
    assert len(feats) == CALIB_IMAGES
    assert all(0 < f.shape[0] <= openvino_roi_head.CALIB_ROIS_PER_IMAGE
               and f.shape[1:] == (head.in_channels, 7, 7) for f in feats)
    assert 'pascal_voc/mAP' in first.test()
    folder = root / 'box_head' / 'openvino'
    assert (folder / openvino_roi_head.BOX_HEAD_INT8_IR).is_file()

    # the INT8 IR as a prebuilt model: its saved box head, no calibration
    calibrated.clear()
    prebuilt = runner('box_head_prebuilt',
                      openvino_model=str(folder / ovd.INT8_MODEL_NAME))
    assert int8_fcs(prebuilt) == 4 and calibrated == []
    # without a saved head beside it: calibrated on the IR's image count
    alone = root / 'int8_alone'
    alone.mkdir()
    for suffix in ('.xml', '.bin'):
        name = osp.splitext(ovd.INT8_MODEL_NAME)[0] + suffix
        shutil.copy(folder / name, alone / name)
    alone_runner = runner('box_head_alone',
                          openvino_model=str(alone / ovd.INT8_MODEL_NAME))
    assert int8_fcs(alone_runner) == 4
    assert len(calibrated) == 1 and len(calibrated[0]) == CALIB_IMAGES


def test_calibration_rois_are_capped_and_repeatable(setup):
    from mmbnn.deploy.openvino_roi_head import calibration_roi_features
    root, data, checkpoint = setup
    cfg = load_config(CONFIG, _options(data))
    detector = build_detector(cfg).eval()
    first = calibration_roi_features(detector, cfg, CALIB_IMAGES,
                                     rois_per_image=5)
    second = calibration_roi_features(detector, cfg, CALIB_IMAGES,
                                      rois_per_image=5)
    assert [f.shape[0] for f in first] == [5] * CALIB_IMAGES
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    # the demo test split has 2 images: 3 are refused unless capped
    with pytest.raises(ValueError, match='has 2 images, fewer than the 3'):
        calibration_roi_features(detector, cfg, 3)
    assert len(calibration_roi_features(detector, cfg, 3, cap=True)) == 2


def test_box_head_of_a_single_stage_config_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"model type 'SingleStage.*' has "
                       r'no model\.roi_head\.bbox_head'):
        build_runner(OTHER_CONFIG, 'test', checkpoint='none.pth',
                     work_dir=str(tmp_path), deploy_backend='openvino',
                     roi_head_openvino=True)


ACCURACY_TOOL = osp.join(REPO_ROOT, 'tools/analysis_tools/deploy_accuracy.py')


def test_deploy_accuracy_with_int8_box_head(setup, monkeypatch, capsys):
    """``deploy_accuracy.py --roi-head-openvino``: every backend at every
    scaling, the INT8 network and its INT8 box head built once (scaling 1)
    and reused, the summary the median of the differences."""
    import json
    import statistics
    from mmbnn.deploy import openvino_roi_head
    root, data, checkpoint = setup
    heads, exports = [], []
    use = openvino_roi_head.use_openvino_box_head
    export = openvino_roi_head.export_int8_box_head

    def recording_use(detector, *args, **kwargs):
        heads.append(kwargs.get('network'))
        return use(detector, *args, **kwargs)

    def recording_export(detector, cfg, num_images, xml_path, **kwargs):
        exports.append(xml_path)
        return export(detector, cfg, num_images, xml_path, **kwargs)

    monkeypatch.setattr(openvino_roi_head, 'use_openvino_box_head',
                        recording_use)
    monkeypatch.setattr(openvino_roi_head, 'export_int8_box_head',
                        recording_export)
    main = runpy.run_path(ACCURACY_TOOL)['main']
    out = str(root / 'accuracy.json')
    assert main([
        CONFIG, checkpoint, '--backends', 'float64', 'openvino-int8',
        '--scalings', '3', '--calib-images', str(CALIB_IMAGES),
        '--roi-head-openvino', '--openvino-threads', '1', '--work-dir',
        str(root / 'accuracy'), '--out', out, '--cfg-options',
        *(f'{k}={v}' for k, v in _options(data).items())
    ]) == 0
    result = json.load(open(out))
    # evaluated at scaling 1 first (the INT8 IR is built there)
    keys = ['1', '1-1*2^-20', '1+1*2^-20']
    assert sorted(result['scalings']) == sorted(keys)
    assert result['roi_head_openvino'] is True
    for backend in ('float64', 'openvino-int8'):
        assert list(result['maps'][backend]) == keys
    # an INT8 box head quantized at scaling 1 beside the INT8 network and
    # read back at every scaling (float64 has none)
    assert exports == [osp.join(osp.dirname(result['int8_model']),
                                openvino_roi_head.BOX_HEAD_INT8_IR)]
    assert heads == exports * 3
    assert result['int8_model'].endswith(ovd.INT8_MODEL_NAME)
    diffs = {k: result['maps']['openvino-int8'][k] -
             result['maps']['float64'][k] for k in keys}
    summary = result['summary']['openvino-int8']
    assert summary['differences'] == pytest.approx(diffs)
    assert summary['median_difference'] == pytest.approx(
        statistics.median(diffs.values()))
    assert 'openvino-int8 - float64: median' in capsys.readouterr().out
    # refused before anything runs
    assert main([CONFIG, checkpoint, '--backends', 'float64',
                 '--roi-head-openvino', '--out', out]) == 1
    assert '--roi-head-openvino applies to --backends openvino' in \
        capsys.readouterr().err


EXPORT_TOOL = osp.join(REPO_ROOT, 'tools/deploy/export_onnx.py')


def test_export_writes_the_int8_box_head_test_reuses(setup, monkeypatch,
                                                     capsys):
    """``export_onnx.py --int8 --roi-head-openvino`` writes
    ``box_head_int8.xml`` beside the IR; ``tools/test.py --openvino-model``
    of that IR runs it without calibrating another."""
    from mmbnn.deploy import openvino_roi_head
    from mmbnn.deploy.int8 import runtime_precision_report
    root, data, checkpoint = setup
    out = root / 'export'
    options = [f'{k}={v}' for k, v in _options(data).items()]
    main = runpy.run_path(EXPORT_TOOL)['main']
    assert main([CONFIG, checkpoint, str(out / 'det.onnx'), '--openvino',
                 str(out / 'det.xml'), '--int8', '--calib-images',
                 str(CALIB_IMAGES), '--roi-head-openvino', '--threads', '1',
                 '--cfg-options', *options]) == 0
    printed = capsys.readouterr().out
    box_head = out / openvino_roi_head.BOX_HEAD_INT8_IR
    assert f'INT8 box head     : {box_head} (0 BinaryConvolution, 4 INT8, ' \
        '0 FP32' in printed
    calibrated = []
    monkeypatch.setattr(openvino_roi_head, 'calibration_roi_features',
                        lambda *a, **k: calibrated.append(a))
    runner = build_runner(CONFIG, 'test', checkpoint=checkpoint,
                          work_dir=str(root / 'export_test'),
                          cfg_options=_options(data),
                          deploy_backend='openvino', openvino_threads=1,
                          openvino_model=str(out / 'det.xml'),
                          roi_head_openvino=True)
    head = runner.model.roi_head.bbox_head
    assert len(runtime_precision_report(head.compiled)['int8']) == 4
    assert calibrated == []
    # refused without --int8, and on a single-stage detector
    assert main([CONFIG, checkpoint, str(out / 'x.onnx'), '--openvino',
                 str(out / 'x.xml'), '--roi-head-openvino']) == 1
    assert '--roi-head-openvino applies to --int8 only' in \
        capsys.readouterr().err
    assert main([OTHER_CONFIG, 'none.pth', str(out / 'y.onnx'), '--openvino',
                 str(out / 'y.xml'), '--int8', '--roi-head-openvino',
                 '--cfg-options', *options]) == 1
    assert "export failed: the OpenVINO box head applies to two-stage " \
        "detectors; model type 'SingleStageDetector' has no " \
        "model.roi_head.bbox_head" in capsys.readouterr().err
