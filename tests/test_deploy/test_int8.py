# Copyright (c) mmbnn contributors. All rights reserved.
"""INT8 quantization of exported networks (mmbnn.deploy.int8).

``tools/deploy/export_onnx.py --int8`` on the full-precision demo Faster
R-CNN (random weights, 128x128 demo images, a few calibration images):
every conv runs in INT8 on the CPU plugin, the outputs stay close to the
float network's, the IR loads in ``OpenVINODetector``. On the binary demo
SSD, quantization leaves every BinaryConvolution and binarization as it
is and puts an 8-bit input quantizer on every real-valued conv; the
quantized binary SSD and Faster R-CNN compile as INT8 and 1-bit segments
within COMPILE_BOUND_S seconds and run every binarized conv as a
BinaryConvolution and every other conv in INT8 (scope 'all'), or only the
convs with no 1-bit layer downstream in INT8, the others in FP32, in fewer
segments (scope 'after_binary'). The errors name what is missing."""
import glob
import os.path as osp
import runpy
import time

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmbnn.datasets import generate_demo_dataset
from mmbnn.deploy import build_detector, int8, load_config
from mmbnn.deploy import openvino as ovd

from ..conftest import REPO_ROOT

EXPORT_TOOL = osp.join(REPO_ROOT, 'tools/deploy/export_onnx.py')
FP_CONFIG = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_fp_demo.py')
BINARY_CONFIG = osp.join(REPO_ROOT, 'configs/demo/ssd_vgg16_ste_demo.py')
BINARY_RCNN_CONFIG = osp.join(REPO_ROOT,
                              'configs/demo/faster_rcnn_r18_ste_demo.py')
# compile time of a quantized binary demo network (128x128), generous for
# a loaded 2-core machine; compiled as one model it takes minutes (SSD) or
# does not finish
COMPILE_BOUND_S = 120
NUM_TEST = 6
CALIB_IMAGES = 4
# INT8 network vs float network on the demo images: root-mean-square
# difference relative to the float output's, per output
RMS_TOL = 0.2


def _options(data_root):
    return [
        f'{key}.dataset.data_root={data_root}/VOCdevkit/'
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def _config(path, data_root):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(dict(o.split('=') for o in _options(data_root)))
    return cfg


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    data = str(tmp_path_factory.mktemp('int8_data'))
    generate_demo_dataset(data, num_trainval=1, num_test=NUM_TEST)
    return data


@pytest.fixture(scope='module')
def exported(tmp_path_factory, data_root):
    """The FP demo Faster R-CNN exported with --int8 by the tool."""
    work = tmp_path_factory.mktemp('int8')
    torch.manual_seed(0)
    model = build_detector(load_config(FP_CONFIG))
    model.init_weights()
    checkpoint = str(work / 'fp.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    xml = str(work / 'fp_int8.xml')
    onnx_path = str(work / 'fp.onnx')
    main = runpy.run_path(EXPORT_TOOL)['main']
    assert main([
        FP_CONFIG, checkpoint, onnx_path, '--openvino', xml, '--int8',
        '--calib-images', str(CALIB_IMAGES), '--int8-scope', 'all',
        '--threads', '1',
        '--cfg-options', *_options(data_root)
    ]) == 0
    return dict(work=work, detector=ovd.load_detector(FP_CONFIG, checkpoint),
                xml=xml, onnx=onnx_path, main=main)


def test_every_conv_runs_int8(exported):
    model = ovd.compile_model(exported['xml'], 1)
    info = ovd.read_export_info(exported['xml'])
    assert info['int8'] == dict(calib_images=CALIB_IMAGES, scope='all')
    report = int8.runtime_precision_report(model)
    convs = sum(op.get_type_name() == 'Convolution' for op in
                ovd.onnx_to_openvino(exported['onnx']).get_ordered_ops())
    # ResNet-18, FPN and RPN convs (a few fused by the plugin)
    assert convs > 20 and len(report['int8']) > 20
    assert report['fp32'] == [] and report['binary'] == []


def test_int8_outputs_close_to_float(exported, data_root):
    float_net = ovd.compile_model(exported['onnx'], 1)
    int8_net = ovd.compile_model(exported['xml'], 1)
    inputs = int8.calibration_inputs(exported['detector'],
                                     _config(FP_CONFIG, data_root),
                                     (128, 128), NUM_TEST)
    errors = []
    for image in inputs:
        ref, got = float_net([image]), int8_net([image])
        for index in range(len(float_net.outputs)):
            a, b = ref[index], got[index]
            assert a.shape == b.shape
            errors.append(np.sqrt(np.mean((a - b)**2) / np.mean(a**2)))
    assert 0 < max(errors) < RMS_TOL, max(errors)


def test_int8_ir_runs_in_openvino_detector(exported, data_root):
    """The INT8 IR loads through the same path as a float one."""
    from mmdet.apis import inference_detector
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    detector = ovd.OpenVINODetector(exported['detector'], exported['xml'],
                                    threads=1)
    assert detector.info['int8'] == dict(calib_images=CALIB_IMAGES,
                                         scope='all')
    images = sorted(
        glob.glob(osp.join(data_root, 'VOCdevkit/VOC2007/JPEGImages/*.jpg')))
    result = inference_detector(detector, images[0])
    boxes = result.pred_instances.bboxes
    assert boxes.ndim == 2 and boxes.shape[1] == 4


def test_binary_layers_untouched_real_convs_quantized(tmp_path, data_root):
    detector = ovd.load_detector(BINARY_CONFIG)
    cfg = _config(BINARY_CONFIG, data_root)
    inputs = int8.calibration_inputs(detector, cfg, (128, 128), 2)
    path = str(tmp_path / 'ssd.onnx')
    info = ovd.export_onnx(detector, path, (128, 128))
    model = int8.quantize_int8(ovd.onnx_to_openvino(path), inputs,
                               scope='all')
    binary = binarize = 0
    real_convs = []
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        binary += kind == 'BinaryConvolution'
        if kind == 'FakeQuantize' and op.get_attributes()['levels'] == 2:
            binarize += 1
            assert op.output(0).get_target_inputs().pop().get_node(
            ).get_type_name() == 'BinaryConvolution'
        if kind == 'Convolution':
            real_convs.append(op)
    assert binary == binarize == info['binary_nodes'] > 0
    # conv1_1 and the 8 head convs, each fed by an 8-bit quantizer
    assert len(real_convs) == 9
    for conv in real_convs:
        source = conv.input(0).get_source_output().get_node()
        assert source.get_type_name() == 'FakeQuantize'
        assert source.get_attributes()['levels'] == 256


def test_calibration_errors_name_the_key(data_root):
    detector = ovd.load_detector(BINARY_CONFIG)
    cfg = _config(BINARY_CONFIG, data_root)
    with pytest.raises(ValueError, match=r'test_dataloader\.dataset has '
                       f'{NUM_TEST} images, fewer than the 50'):
        int8.calibration_inputs(detector, cfg, (128, 128), 50)
    cfg.test_dataloader = None
    cfg.val_dataloader = dict(batch_size=1)
    with pytest.raises(ValueError, match=r'no test_dataloader\.dataset or '
                       r'val_dataloader\.dataset'):
        int8.calibration_inputs(detector, cfg, (128, 128), 2)


def test_tool_refuses_bad_flags(tmp_path, capsys):
    main = runpy.run_path(EXPORT_TOOL)['main']
    onnx_path = str(tmp_path / 'x.onnx')
    assert main([FP_CONFIG, 'none.pth', onnx_path, '--int8']) == 1
    assert '--int8 needs --openvino' in capsys.readouterr().err
    assert main([FP_CONFIG, 'none.pth', onnx_path, '--calib-images',
                 '3']) == 1
    assert '--calib-images applies to --int8' in capsys.readouterr().err
    assert main([FP_CONFIG, 'none.pth', onnx_path, '--int8-scope',
                 'all']) == 1
    assert '--int8-scope applies to --int8' in capsys.readouterr().err


def test_fit_to_shape():
    image = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)
    # portrait on a landscape network: transposed, then padded
    out = int8.fit_to_shape(image, (4, 6))
    assert out.shape == (2, 4, 6)
    assert torch.equal(out[:, :3, :5], image.transpose(1, 2))
    assert out[:, 3:].abs().sum() == 0 and out[:, :, 5:].abs().sum() == 0
    # fits: padded at the bottom / right only
    out = int8.fit_to_shape(image, (6, 4))
    assert torch.equal(out[:, :5, :3], image)
    # too large either way: cropped
    assert int8.fit_to_shape(image, (2, 2)).shape == (2, 2, 2)


# per demo network: BinaryConvolution layers, INT8 convs with scope 'all'
# and 'after_binary' (the stem / shortcut convs feeding the trunk: FP32),
# the FP32 convs of 'after_binary', segments with each scope
SCOPE_CASES = {
    BINARY_CONFIG: dict(binary=18, all=9, after_binary=8,
                        fp32=['/backbone/features.0/Conv/WithoutBiases'],
                        segments=dict(all=3, after_binary=2)),
    BINARY_RCNN_CONFIG: dict(
        binary=24, all=19, after_binary=15,
        fp32=['/backbone/conv1/Conv/WithoutBiases'] + [
            f'/backbone/layer{i}/layer{i}.0/downsample/downsample.0/Conv/'
            'WithoutBiases' for i in (2, 3, 4)],
        segments=dict(all=9, after_binary=2)),
}


@pytest.mark.parametrize('config', list(SCOPE_CASES))
def test_quantized_binary_network_compiles_in_segments(
        tmp_path, data_root, config):
    """Scope 'all': every binarized conv a BinaryConvolution, every other
    conv INT8 (SSD: conv1_1 and the 8 head convs; Faster R-CNN: the stem,
    the downsample shortcuts, FPN and RPN convs). Scope 'after_binary':
    the convs with a 1-bit layer downstream (SSD: conv1_1; Faster R-CNN:
    the stem and the shortcuts) stay FP32, the network compiles in fewer
    segments."""
    case = SCOPE_CASES[config]
    detector = ovd.load_detector(config)
    inputs = int8.calibration_inputs(detector, _config(config, data_root),
                                     (128, 128), 2)
    path = str(tmp_path / 'net.onnx')
    info = ovd.export_onnx(detector, path, (128, 128))
    network = ovd.onnx_to_openvino(path)
    assert int8.ops_before_binary(network) == case['fp32']
    model = int8.quantize_int8(network, inputs, scope='after_binary')
    compiled = ovd.compile_model(model, 1)
    assert len(compiled.segments) == case['segments']['after_binary']
    report = int8.runtime_precision_report(compiled)
    assert len(report['binary']) == case['binary'] == info['binary_nodes']
    assert len(report['int8']) == case['after_binary']
    assert report['fp32'] == case['fp32']
    # each conv has an 8-bit input quantizer iff it is quantized
    for op in model.get_ordered_ops():
        if op.get_type_name() == 'Convolution':
            source = op.input(0).get_source_output().get_node()
            assert (source.get_type_name() == 'FakeQuantize') == (
                op.get_friendly_name() not in case['fp32'])

    model = int8.quantize_int8(network, inputs, scope='all')
    assert int8.needs_segments(model)
    start = time.perf_counter()
    compiled = ovd.compile_model(model, 1)
    seconds = time.perf_counter() - start
    assert seconds < COMPILE_BOUND_S, seconds
    assert isinstance(compiled, int8.SegmentedCompiledModel)
    assert len(compiled.segments) == case['segments']['all']
    report = int8.runtime_precision_report(compiled)
    assert (len(report['binary']), len(report['int8'])) == (case['binary'],
                                                            case['all'])
    assert len(report['binary']) == info['binary_nodes']
    assert report['fp32'] == []
    conv_report = ovd.runtime_conv_report(compiled)
    assert {name.split('#')[0] for name in conv_report['binary']} == \
        set(info['binary_convs'])
    # runs in OpenVINODetector as a compiled network
    outputs = compiled([inputs[0]])
    assert len(outputs) == len(info['output_names'])
    net = ovd.OpenVINODetector(detector, compiled, info=info)
    got = net.network(torch.from_numpy(inputs[0]))
    assert all(np.array_equal(a.numpy(), b) for a, b in zip(got, outputs))


def _binary_residual_model(blocks: int):
    """A real stem conv, ``blocks`` binary residual blocks with a leaky
    activation (two branches from one input), a real head conv."""
    import openvino as ov
    import openvino.opset13 as ops

    from mmbnn.deploy import pack_signs
    gen = torch.Generator().manual_seed(0)
    channels = 32
    param = ops.parameter([1, 3, 16, 16], np.float32, name='x')
    x = ops.convolution(param, torch.randn(channels, 3, 3, 3,
                                           generator=gen).numpy(),
                        [1, 1], [1, 1], [1, 1], [1, 1]).output(0)
    for index in range(blocks):
        weight = torch.randn(channels, channels, 3, 3, generator=gen)
        y = ovd.build_binary_conv(
            x, torch.randn(channels, generator=gen).numpy() * 0.1,
            pack_signs(weight).numpy(), weight.shape,
            np.full(channels, 0.1, np.float32), np.zeros(channels,
                                                         np.float32),
            (1, 1), (1, 1), (1, 1), name=f'block{index}').output(0)
        x = ops.add(x, y).output(0)
        slope = np.full((1, channels, 1, 1), 0.25, np.float32)
        x = ops.add(ops.relu(x), ops.multiply(
            ops.minimum(x, np.zeros(1, np.float32)), slope)).output(0)
    head = ops.convolution(x, torch.randn(8, channels, 3, 3,
                                          generator=gen).numpy(),
                           [1, 1], [1, 1], [1, 1], [1, 1])
    return ov.Model([head], [param])


def test_segments_compute_what_one_model_computes():
    """A quantized binary network small enough to compile as one model:
    its segments give the same outputs, run the same layer precisions."""
    image = torch.randn(1, 3, 16, 16,
                        generator=torch.Generator().manual_seed(1)).numpy()
    model = int8.quantize_int8(_binary_residual_model(3), [image],
                               scope='all')
    single = ovd.compile_model(model, 1, segments='single')
    segmented = ovd.compile_model(model, 1)
    assert isinstance(segmented, int8.SegmentedCompiledModel)
    assert len(segmented.segments) == 3
    np.testing.assert_allclose(segmented([image])[0], single([image])[0],
                               rtol=1e-5, atol=1e-5)
    report, reference = (int8.runtime_precision_report(c)
                         for c in (segmented, single))
    for kind in ('binary', 'int8', 'fp32'):
        assert len(report[kind]) == len(reference[kind])
    assert len(report['binary']) == 3 and len(report['int8']) == 2
    # a float binary network and an INT8 float one stay one model
    assert not int8.needs_segments(_binary_residual_model(3))
    assert not isinstance(ovd.compile_model(_binary_residual_model(1), 1),
                          int8.SegmentedCompiledModel)


def test_compile_refuses_bad_segments():
    with pytest.raises(ValueError, match=r"segments='split': must be one "
                       r"of 'auto', 'single'"):
        ovd.compile_model(_binary_residual_model(1), 1, segments='split')


def test_after_binary_scope_on_a_deep_residual_trunk():
    """The walk that finds the convs feeding 1-bit layers is linear: on 40
    residual blocks (2^40 paths) only the stem conv is found, at once;
    quantized with scope 'after_binary' the stem stays FP32, the head is
    INT8, and the network is one 1-bit and one INT8 segment computing
    what one compiled model computes."""
    deep = _binary_residual_model(40)
    start = time.perf_counter()
    names = int8.ops_before_binary(deep)
    assert time.perf_counter() - start < 5
    stem = [op for op in deep.get_ordered_ops()
            if op.get_type_name() == 'Convolution'][0]
    assert names == [stem.get_friendly_name()]
    image = torch.randn(1, 3, 16, 16,
                        generator=torch.Generator().manual_seed(1)).numpy()
    model = int8.quantize_int8(_binary_residual_model(3), [image],
                               scope='after_binary')
    segmented = ovd.compile_model(model, 1)
    assert len(segmented.segments) == 2
    report = int8.runtime_precision_report(segmented)
    assert (len(report['binary']), len(report['int8']),
            len(report['fp32'])) == (3, 1, 1)
    single = ovd.compile_model(model, 1, segments='single')
    np.testing.assert_allclose(segmented([image])[0], single([image])[0],
                               rtol=1e-5, atol=1e-5)


def test_quantize_refuses_bad_scope():
    model = _binary_residual_model(1)
    image = np.zeros((1, 3, 16, 16), np.float32)
    with pytest.raises(ValueError, match=r"scope='heads' is not supported; "
                       r"allowed values: 'after_binary', 'all'"):
        int8.quantize_int8(model, [image], scope='heads')
    with pytest.raises(ValueError, match=r"int8_scope='x' is not "
                       'supported'):
        from mmbnn.deploy.backends import _check_openvino_options
        _check_openvino_options('openvino', None, True, None, None, None,
                                'x')
