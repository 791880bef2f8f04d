# Copyright (c) mmbnn contributors. All rights reserved.
"""ONNX / OpenVINO export of binary detectors (mmbnn.deploy.openvino).

The binary R18 Faster R-CNN (backbone + FPN + RPN) and SSD300 are exported
with random weights and checked on a real image (resources/
glyph_bench_samples.jpg): every binarized conv runs as a JIT
BinaryConvolution, each one gives the training layer's exact integer sums
on the activations it really sees (borders and thresholds included), and
the whole network agrees with the PyTorch training model to float
rounding. For that last check the activation thresholds are placed in
gaps of the activations they binarize (``_place_thresholds``): no value
then lies within float rounding of a threshold, whose sign a 1e-7
difference between two float implementations could flip, a flip that a
random binary network spreads over its whole output.
"""
import copy
import os.path as osp
import re
import runpy
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmbnn.deploy import convert_to_deploy
from mmbnn.deploy import openvino as ovd
from mmbnn.deploy import openvino_graph
from mmbnn.deploy.loading import build_detector, load_config
from mmbnn.deploy.packing import pack_signs
from mmbnn.ops import BinaryConv
from mmbnn.ops.binarizers import hard_sign

from ..conftest import REPO_ROOT

IMAGE = osp.join(REPO_ROOT, 'resources/glyph_bench_samples.jpg')
EXPORT_TOOL = osp.join(REPO_ROOT, 'tools/deploy/export_onnx.py')
CASES = {
    # config, options, input size, binarized convs (16 backbone + 8 FPN;
    # 14 backbone + 8 SSDNeck)
    'faster_rcnn': ('configs/faster_rcnn_r18_ste_voc.py', {
        'model.backbone.init_cfg': None,
        # thresholds on the FPN convs too, so that all can be placed
        'model.neck.conv_cfg.act_threshold': True
    }, (192, 320), 24),
    'ssd': ('configs/ssd300_vgg16_ste_voc.py', {
        'model.backbone.init_cfg': None
    }, (300, 300), 22),
}
# whole network vs the training model: max |difference| per output,
# relative to the output's largest magnitude (measured: 1e-6 to 2e-5)
NETWORK_RTOL = 1e-4
# a threshold keeps at least this distance, relative to the channel's
# largest magnitude, from every value it binarizes; float rounding between
# the two implementations is ~1e-7 relative (measured smallest margin:
# 8e-6, R18 Faster R-CNN with random slopes and shifts)
MIN_MARGIN = 4e-6


def _randomize(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics, biases, per-channel slopes and shifts,
    as training leaves them (seeded)."""
    from mmbnn.models.layers import RPReLU
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.PReLU):
                module.weight.copy_(
                    torch.rand(module.weight.shape, generator=gen) * 0.5)
            elif isinstance(module, RPReLU):
                for shift in (module.shift_in, module.shift_out):
                    shift.copy_(torch.randn(shift.shape, generator=gen) *
                                0.2)
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(
                    torch.randn(module.num_features, generator=gen) * 0.1)
                module.running_var.copy_(
                    torch.rand(module.num_features, generator=gen) + 0.5)
                module.weight.copy_(
                    torch.rand(module.num_features, generator=gen) + 0.5)
                module.bias.copy_(
                    torch.randn(module.num_features, generator=gen) * 0.1)
            elif isinstance(module, nn.Conv2d) and module.bias is not None:
                module.bias.copy_(
                    torch.randn(module.bias.shape, generator=gen) * 0.1)
    return model.eval()


def _real_image(model: nn.Module, size) -> torch.Tensor:
    """The sample image resized to ``size``, through the model's data
    preprocessor (BGR -> RGB, mean / std)."""
    image = cv2.resize(cv2.imread(IMAGE), (size[1], size[0]),
                       interpolation=cv2.INTER_AREA)
    data = dict(inputs=[torch.from_numpy(image).permute(2, 0, 1).clone()])
    with torch.no_grad():
        return model.data_preprocessor(data, False)['inputs'].float()


def _place_thresholds(model: nn.Module, run) -> float:
    """Set each binarized conv's thresholds, in forward order, to the
    middle of the widest gap between the 5% and 95% quantiles of the values
    it binarizes (per channel); returns the smallest margin found, relative
    to the channel's largest magnitude."""
    margins = []

    def place(module, args):
        x = args[0].detach().transpose(0, 1).reshape(module.in_channels, -1)
        values = x.sort(dim=1).values
        count = values.shape[1]
        central = values[:, count // 20:19 * count // 20 + 1]
        gaps = central[:, 1:] - central[:, :-1]
        index = gaps.argmax(dim=1, keepdim=True)
        threshold = (central.gather(1, index) +
                     central.gather(1, index + 1)) / 2
        margins.append((gaps.max(dim=1).values / 2 /
                        x.abs().amax(dim=1).clamp_min(1e-30)).min().item())
        module.threshold.data.copy_(threshold.view(1, -1, 1, 1))

    hooks = [
        m.register_forward_pre_hook(place) for m in model.modules()
        if isinstance(m, BinaryConv) and m.threshold is not None
    ]
    with torch.no_grad():
        run()
    for hook in hooks:
        hook.remove()
    return min(margins)


def _sample(size):
    from mmdet.structures import DetDataSample
    return DetDataSample(
        metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size,
                      batch_input_shape=size, scale_factor=(1.0, 1.0)))


@pytest.fixture(scope='module', params=sorted(CASES))
def exported(request, tmp_path_factory):
    """A random-weight binary detector, its ONNX export (SSD through the
    CLI, with the OpenVINO IR) and the compiled OpenVINO model."""
    name = request.param
    config, options, size, num_binary = CASES[name]
    config = osp.join(REPO_ROOT, config)
    work = tmp_path_factory.mktemp(f'openvino_{name}')
    torch.manual_seed(0)  # the weights the config initialises
    model = build_detector(load_config(config, options))
    model.init_weights()
    model = _randomize(model)
    image = _real_image(model, size)
    part = ovd.DetectorTensorPart(model)
    margin = _place_thresholds(model, lambda: part(image))
    assert margin > MIN_MARGIN
    onnx_path = str(work / 'model.onnx')
    if name == 'ssd':
        checkpoint = str(work / 'model.pth')
        torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
        xml = str(work / 'model.xml')
        main = runpy.run_path(EXPORT_TOOL)['main']
        assert main([
            config, checkpoint, onnx_path, '--openvino', xml,
            '--cfg-options', *[f'{k}={v}' for k, v in options.items()]
        ]) == 0
        network = xml  # read back from the IR
    else:
        ovd.export_onnx(
            convert_to_deploy(copy.deepcopy(model), backend='reference'),
            onnx_path, size)
        network = ovd.onnx_to_openvino(onnx_path)
    compiled = ovd.compile_model(network, threads=2)
    return SimpleNamespace(name=name, model=model, image=image, size=size,
                           num_binary=num_binary, onnx=onnx_path,
                           network=network, compiled=compiled,
                           info=ovd.read_export_info(onnx_path))


def test_binary_convs_run_as_jit_binary_convolutions(exported):
    report = ovd.runtime_conv_report(exported.compiled)
    binary = [
        name for name, m in exported.model.named_modules()
        if isinstance(m, BinaryConv) and m.binarize_weight and m.binarize_act
    ]
    assert len(binary) == exported.num_binary
    assert sorted(exported.info['binary_convs']) == sorted(binary)
    assert exported.info['binary_nodes'] == len(binary)
    # each one is a BinaryConvolution with a JIT XNOR-popcount kernel
    assert sorted(report['binary']) == sorted(binary)
    for name, primitive in report['binary'].items():
        assert re.fullmatch(r'jit_\w+_u1', primitive), (name, primitive)
    # fed by 1-bit binarizations (OpenVINO merges identical ones of one
    # tensor: here a stage output that the next stage and an FPN lateral
    # binarize with the same placed thresholds); no float convolution is
    # left for any binarized conv
    assert 0 < report['binarization'] <= len(binary)
    assert not set(report['float']) & set(binary)
    # the float ones: stem + 3 shortcuts + RPN (3 per level); conv1_1 + the
    # SSD head's 12
    assert len(report['float']) == {'faster_rcnn': 19, 'ssd': 13}[
        exported.name]


def test_layers_exact_on_real_activations(exported):
    """Every binarized conv, on the input it gets in the network (real
    image, placed thresholds): the popcount sums equal the training
    layer's ``conv(sign(x - b), sign(W))`` exactly, borders included, and
    ``* alpha + bias`` its float output to rounding."""
    import openvino as ov
    records = {}
    convs = {
        name: m for name, m in exported.model.named_modules()
        if isinstance(m, BinaryConv) and m.binarize_weight and m.binarize_act
    }

    def record(name):
        def hook(module, args, out):
            records[name] = (args[0].detach().clone(), out.detach().clone())
        return hook

    hooks = [m.register_forward_hook(record(n)) for n, m in convs.items()]
    with torch.no_grad():
        ovd.DetectorTensorPart(exported.model)(exported.image)
    for hook in hooks:
        hook.remove()
    assert set(records) == set(convs)
    params, outputs, expected, explicit_pad = [], [], [], 0
    for name, conv in convs.items():
        x, layer_out = records[name]
        param = ov.opset13.parameter(list(x.shape), np.float32, name=name)
        common = dict(
            threshold=conv.threshold.detach().reshape(-1).numpy(),
            weight_bits=pack_signs(conv.weight).numpy(),
            weight_shape=tuple(conv.weight.shape), stride=conv.stride,
            padding=conv.padding, dilation=conv.dilation)
        sums = ovd.build_binary_conv(
            param.output(0), scale=np.ones(conv.out_channels, np.float32),
            bias=np.zeros(conv.out_channels, np.float32), name=name,
            **common)
        full = ovd.build_binary_conv(
            param.output(0), scale=conv.weight_scale().reshape(-1).numpy(),
            bias=conv.bias.detach().numpy() if conv.bias is not None else
            np.zeros(conv.out_channels, np.float32), name=name + '.full',
            **common)
        params.append(param)
        outputs += [sums, full]
        integer = F.conv2d(hard_sign(x - conv.threshold), hard_sign(
            conv.weight), None, conv.stride, conv.padding, conv.dilation)
        expected.append((x, integer, layer_out))
        explicit_pad += not ovd.jit_supports_padding(
            x.shape[2:], conv.kernel_size, conv.stride, conv.padding,
            conv.dilation)
    # SSD's fc6 (padding 6, dilation 6) takes the explicit-padding path
    assert explicit_pad == (1 if exported.name == 'ssd' else 0)
    compiled = ovd.compile_model(ov.Model(outputs, params))
    results = compiled([x.numpy() for x, _, _ in expected])
    for i, (name, (_, integer, layer_out)) in enumerate(
            zip(convs, expected)):
        sums, full = results[2 * i], results[2 * i + 1]
        np.testing.assert_array_equal(sums, integer.numpy(), err_msg=name)
        scale = float(layer_out.abs().max())
        np.testing.assert_allclose(full, layer_out.numpy(), rtol=0,
                                   atol=1e-5 * scale, err_msg=name)


def test_network_matches_training_model(exported):
    """The OpenVINO network against the PyTorch training model (float
    convs on +-alpha) on the real image: equal to float rounding."""
    with torch.no_grad():
        expected = ovd.DetectorTensorPart(exported.model)(exported.image)
    got = exported.compiled([exported.image.numpy()])
    assert len(got) == len(expected) == len(exported.info['output_names'])
    for i, (name, ref) in enumerate(
            zip(exported.info['output_names'], expected)):
        ref = ref.numpy()
        assert got[i].shape == ref.shape, name
        difference = np.abs(got[i] - ref).max() / np.abs(ref).max()
        assert difference <= NETWORK_RTOL, (name, difference)


def _assert_same_top_detections(got, expected, top: int = 10) -> None:
    """The first ``top`` detections agree: labels exactly; box deltas to
    ~1e-5 relative, so boxes to a few hundredths of a pixel."""
    top = min(top, len(expected))
    assert top > 0 and len(got) >= top
    torch.testing.assert_close(got.bboxes[:top], expected.bboxes[:top],
                               rtol=0, atol=0.05)
    torch.testing.assert_close(got.scores[:top], expected.scores[:top],
                               rtol=0, atol=1e-4)
    assert torch.equal(got.labels[:top], expected.labels[:top])


def test_openvino_detector(exported, tmp_path, monkeypatch):
    """Predictions of :class:`OpenVINODetector`: the same post-processing
    as ``detector.predict`` (fed the PyTorch network's outputs: identical
    results) and, on the OpenVINO network, the same detections."""
    deploy = convert_to_deploy(
        copy.deepcopy(exported.model), backend='reference')
    if exported.name == 'faster_rcnn':  # fewer RoIs: a shorter test
        deploy.rpn_head.test_cfg['nms_pre'] = 200
        deploy.rpn_head.test_cfg['max_per_img'] = 100
    detector = ovd.OpenVINODetector(deploy, exported.compiled,
                                    info=exported.info)
    image, size = exported.image, exported.size
    with torch.no_grad():
        expected = deploy.predict(image, [_sample(size)])[0].pred_instances
        network = list(ovd.DetectorTensorPart(deploy)(image))
        wired = copy.copy(detector)
        wired.run_network = lambda inputs: network
        same = wired.predict(image, [_sample(size)])[0].pred_instances
        got = detector.predict(image, [_sample(size)])[0].pred_instances
    for key in ('bboxes', 'scores', 'labels'):
        assert torch.equal(same[key], expected[key]), key
    _assert_same_top_detections(got, expected)
    # a smaller image is padded (bottom / right, zeros) to the static
    # input; a larger one is refused
    small = image[:, :, :size[0] - 32, :size[1] - 32]
    outputs = detector.run_network(small)
    padded = exported.compiled([F.pad(small, (0, 32, 0, 32)).numpy()])
    for i, out in enumerate(outputs):
        np.testing.assert_array_equal(out.numpy(), padded[i])
    with pytest.raises(ValueError, match='larger than the exported'):
        detector.run_network(F.pad(image, (0, 32)))
    exports = []
    monkeypatch.setattr(
        ovd, 'export_onnx',
        lambda *args, _export=ovd.export_onnx, **kwargs:
        exports.append(args[2]) or _export(*args, **kwargs))
    if exported.name == 'faster_rcnn':
        # with an export dir, a portrait image runs on a network exported
        # for the transposed static shape
        tall = image.transpose(2, 3)[:, :, :, :size[0] - 32]
        with pytest.raises(ValueError, match='larger than the exported'):
            detector.run_network(tall)
        fixed = ovd.OpenVINODetector(deploy, exported.compiled,
                                     info=exported.info,
                                     export_dir=str(tmp_path / 'fixed'))
        assert fixed.run_network(tall)[0].shape[2:] == (size[1] // 4,
                                                        size[0] // 4)
        assert exports == [(size[1], size[0])]
        exports.clear()
    # per-shape mode: the smaller image gets its own network (exported on
    # first use, then cached), equal to the PyTorch network on it (the
    # thresholds placed for that image)
    model = copy.deepcopy(exported.model)
    assert _place_thresholds(
        model, lambda: ovd.DetectorTensorPart(model)(small)) > MIN_MARGIN
    deploy = convert_to_deploy(model, backend='reference')
    per_shape = ovd.OpenVINODetector(deploy, exported.compiled,
                                     info=exported.info,
                                     export_dir=str(tmp_path),
                                     per_shape=True)
    outputs = per_shape.run_network(small)
    assert len(per_shape.run_network(small)) == len(outputs)
    assert exports == [tuple(small.shape[2:])]  # exported once
    assert sorted(per_shape.shape_networks) == [
        tuple(small.shape[2:]), tuple(size)]
    assert (tmp_path / f'detector_{size[0] - 32}x{size[1] - 32}.onnx'
            ).is_file()
    with torch.no_grad():
        expected_small = ovd.DetectorTensorPart(deploy)(small)
    for name, got_out, ref in zip(exported.info['output_names'], outputs,
                                  expected_small):
        assert got_out.shape == ref.shape, name
        difference = (got_out - ref).abs().max() / ref.abs().max()
        assert difference <= NETWORK_RTOL, (name, float(difference))
    if exported.name == 'ssd':  # the benchmark times the network stage
        from mmbnn.analysis.benchmark_detector import benchmark_detectors
        rows = benchmark_detectors(
            {'ov': (detector, dict(inputs=image,
                                   data_samples=[_sample(size)]))},
            repeats=1, warmup=0)
        assert rows[0]['stages_ms']['openvino_network'] > 0
        assert rows[0]['stages_ms']['bbox_post'] > 0


def test_float64_network_detector(exported):
    """:class:`Float64NetworkDetector`: the network part in float64 on a
    copy (the detector stays float32), outputs in float32 with OpenVINO's
    layout, equal to the float32 network to rounding (thresholds placed
    away from the values) and the same detections through the same
    post-processing."""
    deploy = convert_to_deploy(
        copy.deepcopy(exported.model), backend='reference')
    detector = ovd.Float64NetworkDetector(deploy)
    assert all(p.dtype == torch.float64
               for p in detector.network.parameters())
    assert all(p.dtype == torch.float32 for p in deploy.parameters())
    image, size = exported.image, exported.size
    with torch.no_grad():
        expected = list(ovd.DetectorTensorPart(deploy)(image))
    outputs = detector.run_network(image)
    assert detector.layout == exported.info['layout']
    assert detector.two_stage == (exported.name == 'faster_rcnn')
    for name, got, ref in zip(exported.info['output_names'], outputs,
                              expected):
        assert got.dtype == torch.float32 and got.shape == ref.shape, name
        difference = (got - ref).abs().max() / ref.abs().max()
        assert 0 < difference <= NETWORK_RTOL, (name, float(difference))
    if exported.name == 'faster_rcnn':  # fewer RoIs: a shorter test
        deploy.rpn_head.test_cfg['nms_pre'] = 200
        deploy.rpn_head.test_cfg['max_per_img'] = 100
    with torch.no_grad():
        want = deploy.predict(image, [_sample(size)])[0].pred_instances
        got = detector.predict(image, [_sample(size)])[0].pred_instances
    _assert_same_top_detections(got, want)
    with pytest.raises(ValueError, match='Float64NetworkDetector only'):
        detector(image, [_sample(size)], mode='loss')


def test_onnx_rprelu_equals_rprelu():
    """The export form of RPReLU, for slopes of either sign."""
    from mmbnn.models.layers import RPReLU
    gen = torch.Generator().manual_seed(0)
    module = RPReLU(16)
    with torch.no_grad():
        module.prelu.weight.copy_(torch.randn(16, generator=gen))
        module.shift_in.copy_(torch.randn(1, 16, 1, 1, generator=gen))
        module.shift_out.copy_(torch.randn(1, 16, 1, 1, generator=gen))
    slopes = module.prelu.weight
    assert (slopes < 0).any() and (slopes > 0).any()
    x = torch.randn(2, 16, 5, 7, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(ovd.OnnxRPReLU(module)(x), module(x),
                                   rtol=0, atol=1e-6)


def _denormals_flushed() -> bool:
    """Whether this thread computes with flush-to-zero / denormals-are-zero
    (OpenVINO's ``CPU_DENORMALS_OPTIMIZATION`` sets it and leaves it set)."""
    return not np.array([1e-45], np.float32)[0] > 0


@pytest.mark.parametrize('flush_denormals', [False, True])
def test_build_binary_conv_geometries(flush_denormals):
    """Single layers against ``conv(sign(x - b), sign(W))``, exactly:
    strides, odd sizes, 1x1, the largest JIT padding, a padding the JIT
    kernel refuses (explicit padding + correction), thresholds at 0 and
    inputs exactly on the threshold (``sign(0) = +1``), with and without
    flush-to-zero arithmetic."""
    if not flush_denormals and _denormals_flushed():
        # an earlier network of this process left flush-to-zero set: the
        # case without it runs in a fresh process
        code = ('from tests.test_deploy.test_openvino import '
                'check_binary_conv_geometries as check; check(False)')
        proc = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return
    check_binary_conv_geometries(flush_denormals)


def check_binary_conv_geometries(flush_denormals: bool) -> None:
    """The body of :func:`test_build_binary_conv_geometries`."""
    import openvino as ov
    assert flush_denormals or not _denormals_flushed()
    gen = torch.Generator().manual_seed(0)
    # (in, out, kernel, stride, padding, dilation, size)
    cases = [(16, 24, 3, 1, 1, 1, (9, 11)), (24, 8, 3, 2, 1, 1, (9, 10)),
             (32, 16, 1, 1, 0, 1, (5, 7)), (8, 16, 5, 1, 2, 1, (7, 9)),
             (16, 16, 3, 1, 6, 6, (19, 19)), (16, 8, 3, 2, 3, 1, (8, 9))]
    params, outputs, expected = [], [], []
    for cin, cout, k, s, p, d, hw in cases:
        x = torch.randn(1, cin, *hw, generator=gen)
        weight = torch.randn(cout, cin, k, k, generator=gen)
        threshold = torch.randn(cin, generator=gen) * 0.2
        threshold[:cin // 4] = 0
        x[0, :cin // 2, 0] = threshold[:cin // 2, None]  # ties
        x[0, :cin // 4, 1] = 0.0
        param = ov.opset13.parameter([1, cin, *hw], np.float32)
        outputs.append(
            ovd.build_binary_conv(param.output(0), threshold.numpy(),
                                  pack_signs(weight).numpy(), weight.shape,
                                  np.ones(cout, np.float32),
                                  np.zeros(cout, np.float32), (s, s),
                                  (p, p), (d, d)))
        params.append(param)
        expected.append((x, F.conv2d(
            hard_sign(x - threshold.view(1, -1, 1, 1)), hard_sign(weight),
            None, s, p, d)))
    assert not ovd.jit_supports_padding((19, 19), (3, 3), (1, 1), (6, 6),
                                        (6, 6))
    compiled = ovd.compile_model(ov.Model(outputs, params),
                                 CPU_DENORMALS_OPTIMIZATION=flush_denormals)
    assert len(ovd.runtime_conv_report(compiled)['binary']) == len(cases)
    results = compiled([x.numpy() for x, _ in expected])
    for i, (_, ref) in enumerate(expected):
        np.testing.assert_array_equal(results[i], ref.numpy(),
                                      err_msg=str(cases[i]))
    ovd.check_bit_order()


def test_float_export_and_partial_binary_layers(tmp_path):
    """``binary=False`` writes standard ops (float convs on +-1 values);
    a conv that binarizes only its weights or only its input is exported
    as a float conv either way; all equal the training model."""
    import openvino as ov
    torch.manual_seed(0)
    model = nn.Sequential(
        BinaryConv(16, 16, 3, padding=1, act_threshold=True),
        BinaryConv(16, 16, 3, padding=1, binarize_act=False),
        BinaryConv(16, 16, 3, padding=1, binarize_weight=False,
                   act_threshold=True)).eval()
    with torch.no_grad():
        model[0].threshold.normal_(0, 0.1)
        model[2].threshold.normal_(0, 0.1)
    x = torch.randn(1, 16, 8, 9)
    with torch.no_grad():
        expected = model(x).numpy()
    deploy = convert_to_deploy(copy.deepcopy(model), backend='reference')
    for binary, num_binary in ((True, 1), (False, 0)):
        prepared, names = ovd.prepare_for_export(deploy, binary=binary)
        assert names == (['0'] if binary else [])
        path = str(tmp_path / f'seq_{binary}.onnx')
        torch.onnx.export(
            prepared, (x, ), path, dynamo=False, opset_version=17,
            custom_opsets={ovd.ONNX_DOMAIN: 1}, autograd_inlining=False)
        if binary:  # stock OpenVINO refuses the custom node
            with pytest.raises(Exception, match='mmbnn.BinaryConv2d'):
                ov.convert_model(path)
        from openvino.frontend.onnx import ConversionExtension
        network = ov.convert_model(path, extension=[ConversionExtension(
            ovd.BINARY_CONV_OP, ovd.ONNX_DOMAIN,
            openvino_graph._convert_binary_conv_node)])
        compiled = ovd.compile_model(network)
        report = ovd.runtime_conv_report(compiled)
        assert len(report['binary']) == num_binary
        assert len(report['float']) == 3 - num_binary
        np.testing.assert_allclose(compiled([x.numpy()])[0], expected,
                                   rtol=0, atol=1e-5 * abs(expected).max())


def test_unsupported_layers_are_named():
    deploy = convert_to_deploy(nn.Sequential(
        BinaryConv(16, 16, 3, padding=1, groups=2)).eval())
    with pytest.raises(ValueError, match=r'^0: groups=2'):
        ovd.prepare_for_export(deploy)
    ovd.prepare_for_export(deploy, binary=False)  # float convs: fine
    deploy = convert_to_deploy(nn.Sequential(
        nn.Conv2d(3, 12, 1), BinaryConv(12, 16, 3, padding=1)).eval())
    with pytest.raises(ValueError, match=r'^1: 12 input channels'):
        ovd.prepare_for_export(deploy)
    with pytest.raises(ValueError, match=r'^1: a training BinaryConv'):
        ovd.prepare_for_export(
            nn.Sequential(nn.Identity(), BinaryConv(16, 16, 3)))
    from mmbnn.models.backbones.bireal_resnet import BiRealResNet
    fused = convert_to_deploy(BiRealResNet(18).eval(), fuse=True)
    with pytest.raises(ValueError, match=r'^layer1\.0\.conv1: a fused'):
        ovd.prepare_for_export(fused)
    param = openvino_graph._ops()[1].parameter([1, 12, 4, 4], np.float32)
    with pytest.raises(ValueError, match='multiple of 8'):
        ovd.build_binary_conv(
            param.output(0),
            np.zeros(12), np.zeros(54, np.uint8), (4, 12, 3, 3),
            np.ones(4), np.zeros(4), (1, 1), (1, 1), (1, 1), name='c')
    with pytest.raises(ValueError, match='thresholds must be finite'):
        ovd.threshold_below(np.array([np.inf], np.float32))


def test_threshold_below_is_never_denormal():
    """``x > t'`` is ``x >= t`` for normal thresholds and inputs; ``t'`` is
    0 or a normal number (read from its bits: float comparisons flush
    denormals once OpenVINO has set denormals-are-zero in this process),
    so flush-to-zero cannot move it onto an input of 0."""
    tiny = np.finfo(np.float32).tiny
    denormal = np.uint32(3).view(np.float32)
    normal = np.array([0.0, -0.0, 0.3, -0.3, tiny, -tiny, 2 * tiny],
                      np.float32)
    below = ovd.threshold_below(np.concatenate([normal,
                                                [denormal, -denormal]]))
    bits = below.view(np.uint32)
    exponent, mantissa = bits & 0x7F800000, bits & 0x007FFFFF
    assert np.all((exponent != 0) | (mantissa == 0))
    # a denormal threshold counts as 0 on either side
    assert below[-2] == 0 and bits[-2] == 0
    assert bits[-1] == bits[0] == np.float32(-tiny).view(np.uint32)
    inputs = np.array([0.0, -tiny, tiny, 0.3, -0.3,
                       np.nextafter(np.float32(0.3), np.float32(0)),
                       np.nextafter(np.float32(-0.3), np.float32(-1)), 1.0,
                       -1.0, 2 * tiny, 3 * tiny], np.float32)
    for t, t_below in zip(normal, below):
        np.testing.assert_array_equal(inputs > t_below, inputs - t >= 0,
                                      err_msg=f'threshold {t!r}')


def test_export_info_is_required(tmp_path):
    path = str(tmp_path / 'plain.onnx')
    torch.onnx.export(nn.Conv2d(3, 8, 3), (torch.zeros(1, 3, 8, 8), ),
                      path, dynamo=False, opset_version=17)
    with pytest.raises(ValueError, match='no mmbnn export info'):
        ovd.read_export_info(path)
