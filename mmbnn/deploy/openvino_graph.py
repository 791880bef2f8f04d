# Copyright (c) mmbnn contributors. All rights reserved.
"""The OpenVINO form of the exported ONNX file: every
``mmbnn::BinaryConv2d`` node as a ``FakeQuantize`` binarization followed by
an opset1 ``BinaryConvolution`` (:func:`build_binary_conv`), compiled for
OpenVINO's CPU plugin, whose XNOR-popcount kernels run it.

The subgraph, the bit order of the ``u1`` weights and the CPU-plugin
behaviours it works around are described in ``docs/en/advanced_guides/
openvino.md``.
"""
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from ..ops.binarizers import hard_sign
from .onnx_export import (BINARY_CHANNEL_MULTIPLE, BINARY_CONV_OP,
                          EXPORT_INFO_KEY, ONNX_DOMAIN, read_export_info)
from .packing import pack_signs

# output columns the CPU plugin's binary conv kernel unrolls on AVX2 and
# SSE4.1 (4 on AVX-512): the largest left / right padding it takes
JIT_UR_W = 2
FLT_LOWEST = float(np.finfo(np.float32).min)
FLT_MIN = np.float32(np.finfo(np.float32).tiny)  # smallest normal
# runtime layer types counted by :func:`runtime_conv_report`
FLOAT_CONV_TYPES = ('Convolution', 'GroupConvolution', 'Deconvolution')


def _ops():
    import openvino.opset1 as opset1
    import openvino.opset13 as opset13
    return opset1, opset13


def threshold_below(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 below each threshold: ``x > t'`` is
    ``x >= t`` for every normal float32 ``x``.

    ``t'`` is never a denormal number: a threshold of 0 gives the
    smallest normal negative number instead of the largest negative
    denormal. With flush-to-zero / denormals-are-zero arithmetic (OpenVINO's
    ``CPU_DENORMALS_OPTIMIZATION``, which also stays set for later networks
    of the process) a denormal ``t'`` would read as 0 and an input of
    exactly 0 would binarize to -1. Only denormal inputs next to such a
    threshold binarize differently from ``sign(x - t)``, as they would under
    flush-to-zero.
    """
    threshold = np.asarray(threshold, dtype=np.float32)
    if not np.all(np.isfinite(threshold)) or np.any(
            threshold <= np.float32(FLT_LOWEST)):
        raise ValueError('activation thresholds must be finite and above '
                         'the lowest float32')
    below = np.nextafter(threshold, np.float32(-np.inf)).astype(np.float32)
    # denormals found by their bits: float comparisons would themselves
    # flush them while denormals-are-zero is set
    bits = below.view(np.uint32)
    denormal = ((bits & 0x7F800000) == 0) & ((bits & 0x007FFFFF) != 0)
    negative = (bits >> 31) == 1
    below[denormal & negative] = -FLT_MIN
    below[denormal & ~negative] = 0
    return below


def jit_supports_padding(in_size: Tuple[int, int],
                         kernel_size: Tuple[int, int],
                         stride: Tuple[int, int],
                         padding: Tuple[int, int],
                         dilation: Tuple[int, int]) -> bool:
    """Whether the CPU plugin's binary conv kernel takes this geometry with
    its padding (the ``args_ok`` test of ``BinaryConvolution::
    createPrimitive``, with the AVX2 / SSE4.1 unroll of 2 columns)."""
    iw, kw = in_size[1], kernel_size[1]
    ow = (iw + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    ur_w = min(JIT_UR_W, ow)
    ur_w_tail = ow % ur_w
    l_pad = padding[1]
    r_pad_no_tail = max(
        0, (ow - ur_w_tail - 1) * stride[1] + (kw - 1) * dilation[1] -
        (iw + l_pad - 1))
    ok = l_pad <= ur_w and r_pad_no_tail <= ur_w
    if kw > 7:
        ok = ok and ((padding[0] == 0 and l_pad == 0)
                     or stride == (1, 1))
    return ok


def padded_tap_sums(signs: np.ndarray, in_size: Tuple[int, int],
                    stride: Tuple[int, int], padding: Tuple[int, int],
                    dilation: Tuple[int, int]) -> np.ndarray:
    """``sum of w`` over the taps of each output position that fall in
    the padding, ``(1, O, H_out, W_out)``: what a -1 padding subtracts
    from a zero-padded binary conv."""
    out_channels = signs.shape[0]
    ones = torch.ones(1, signs.shape[1], *in_size, dtype=torch.float64)
    weight = torch.from_numpy(signs.astype(np.float64))
    total = F.conv2d(F.pad(ones, (padding[1], padding[1], padding[0],
                                  padding[0]), value=1.0),
                     weight, None, stride, 0, dilation)
    valid = F.conv2d(ones, weight, None, stride, padding, dilation)
    result = (total - valid).numpy().astype(np.float32)
    assert result.shape[1] == out_channels
    return result


def build_binary_conv(x, threshold: np.ndarray, weight_bits: np.ndarray,
                      weight_shape: Sequence[int], scale: np.ndarray,
                      bias: np.ndarray, stride: Sequence[int],
                      padding: Sequence[int], dilation: Sequence[int],
                      name: str = 'binary_conv'):
    """The OpenVINO subgraph of one binarized conv (see the module doc).

    Args:
        x: The input (an OpenVINO ``Output``, static NCHW shape).
        threshold (np.ndarray): ``C`` activation thresholds.
        weight_bits (np.ndarray): Weight signs packed by
            :func:`~mmbnn.deploy.pack_signs` (uint8).
        weight_shape (Sequence[int]): ``(O, C, kh, kw)``.
        scale, bias (np.ndarray): ``O`` each.
        stride, padding, dilation (Sequence[int]): 2 each (symmetric
            padding).
        name (str): Friendly name of the ``BinaryConvolution``.

    Returns:
        The output node.
    """
    import openvino as ov
    opset1, ops = _ops()
    out_channels, in_channels, kh, kw = (int(s) for s in weight_shape)
    stride, padding, dilation = (tuple(int(v) for v in p)
                                 for p in (stride, padding, dilation))
    in_shape = x.get_partial_shape()
    if in_shape.is_dynamic or len(in_shape) != 4:
        raise ValueError(f'{name}: BinaryConvolution needs a static 4D '
                         f'input, got {in_shape}')
    in_size = (in_shape[2].get_length(), in_shape[3].get_length())
    if in_shape[1].get_length() != in_channels:
        raise ValueError(f'{name}: input has {in_shape[1]} channels, the '
                         f'weights {in_channels}')
    if in_channels % BINARY_CHANNEL_MULTIPLE:
        raise ValueError(
            f'{name}: {in_channels} input channels; the CPU plugin\'s '
            'BinaryConvolution computes wrong results unless they are a '
            f'multiple of {BINARY_CHANNEL_MULTIPLE}')
    numel = out_channels * in_channels * kh * kw
    bits = np.ascontiguousarray(weight_bits, dtype=np.uint8).reshape(-1)
    if bits.size != (numel + 7) // 8:
        raise ValueError(f'{name}: {bits.size} weight bytes for weight '
                         f'shape {tuple(weight_shape)}')
    t_below = threshold_below(np.asarray(threshold).reshape(1, -1, 1, 1))
    correction = None
    if not jit_supports_padding(in_size, (kh, kw), stride, padding,
                                dilation):
        # explicit padding with taps that binarize to -1, removed again by
        # the constant correction
        pads = [0, 0, padding[0], padding[1]]
        x = ops.pad(x, pads, pads, 'constant',
                    np.array(FLT_LOWEST, dtype=np.float32)).output(0)
        signs = np.unpackbits(bits, bitorder='little')[:numel].reshape(
            weight_shape).astype(np.float32) * 2 - 1
        correction = padded_tap_sums(signs, in_size, stride, padding,
                                     dilation)
        in_size = (in_size[0] + 2 * padding[0], in_size[1] + 2 * padding[1])
        padding = (0, 0)
    # one constant for both input ranges: it then has two consumers, which
    # keeps the CPU plugin from fusing the binarization into a producing
    # binary conv (see the docs page named in the module doc)
    t_node = ops.constant(t_below)
    binarized = ops.fake_quantize(x, t_node, t_node,
                                  np.array(0, dtype=np.float32),
                                  np.array(1, dtype=np.float32), 2)
    # copied into the constant: a shared constant would point at ``bits``
    weights = ov.op.Constant(
        ov.Tensor(bits, [out_channels, in_channels, kh, kw], ov.Type.u1),
        shared_memory=False)
    conv = opset1.binary_convolution(
        binarized, weights, list(stride), list(padding), list(padding),
        list(dilation), 'xnor-popcount', 0.0)
    conv.set_friendly_name(name)
    y = conv.output(0)
    if correction is not None:
        y = ops.add(y, ops.constant(correction)).output(0)
    y = ops.multiply(
        y, ops.constant(np.asarray(scale, np.float32).reshape(1, -1, 1, 1)))
    return ops.add(
        y, ops.constant(np.asarray(bias, np.float32).reshape(1, -1, 1, 1)))


def _convert_binary_conv_node(node) -> list:
    """``ConversionExtension`` body for ``mmbnn::BinaryConv2d``."""
    def attr(key):
        return [int(v) for v in node.get_attribute(key)]

    def const(index, dtype):
        source = node.get_input(index).get_node()
        if source.get_type_name() != 'Constant':
            raise ValueError(
                f'{name}: input {index} of {BINARY_CONV_OP} must be a '
                f'constant (an initializer), got {source.get_type_name()}')
        return np.array(source.get_data(), dtype=dtype)

    name = node.get_attribute('name') if node.has_attribute('name') \
        else 'binary_conv'
    pads = attr('pads')
    if pads[:2] != pads[2:]:
        raise ValueError(f'{name}: asymmetric pads {pads}')
    out = build_binary_conv(
        node.get_input(0), const(1, np.float32), const(2, np.uint8),
        attr('weight_shape'), const(3, np.float32), const(4, np.float32),
        attr('strides'), pads[:2], attr('dilations'), name=name)
    return [out.output(0)]


def onnx_to_openvino(path: str):
    """Read an ONNX file from :func:`~mmbnn.deploy.onnx_export.export_onnx`
    as an OpenVINO model.

    Returns:
        openvino.Model: Every ``mmbnn::BinaryConv2d`` node replaced by its
        ``BinaryConvolution`` subgraph (:func:`build_binary_conv`); the
        export info is kept in its runtime info (and so in a saved IR).
    """
    import openvino as ov
    from openvino.frontend.onnx import ConversionExtension
    extension = ConversionExtension(BINARY_CONV_OP, ONNX_DOMAIN,
                                    _convert_binary_conv_node)
    model = ov.convert_model(path, extension=[extension])
    model.set_rt_info(json.dumps(read_export_info(path)),
                      ['mmbnn', EXPORT_INFO_KEY])
    return model


def save_openvino(model, xml_path: str) -> None:
    """Save an OpenVINO model as IR (``.xml`` + ``.bin``), float32 kept
    (no FP16 compression: it would round thresholds and scales)."""
    import openvino as ov
    os.makedirs(osp.dirname(osp.abspath(xml_path)), exist_ok=True)
    ov.save_model(model, xml_path, compress_to_fp16=False)


def compile_model(model, threads: Optional[int] = None,
                  segments: str = 'auto', **config):
    """Compile an OpenVINO model (or an ``.xml`` / ``.onnx`` path) for CPU.

    Args:
        model: ``openvino.Model`` or a path (an ``.onnx`` file is read with
            :func:`onnx_to_openvino`).
        threads (int, optional): ``INFERENCE_NUM_THREADS``.
        segments (str): ``'auto'`` (default): a network with both 1-bit
            layers and 8-bit quantizers (a binary network after
            :func:`~mmbnn.deploy.int8.quantize_int8`) is compiled as
            separate INT8 and 1-bit segments
            (:func:`~mmbnn.deploy.int8.compile_segments`), any other as one
            model; ``'single'``: always as one model.
        **config: Further CPU properties (``INFERENCE_PRECISION_HINT``
            defaults to ``'f32'``).

    Returns:
        ``openvino.CompiledModel``, or a
        :class:`~mmbnn.deploy.int8.SegmentedCompiledModel`.

    Raises:
        ValueError: For a ``segments`` value other than those of
            :data:`~mmbnn.deploy.int8.SEGMENT_MODES`.
    """
    import openvino as ov

    from .int8 import SEGMENT_MODES, compile_segments, needs_segments
    if segments not in SEGMENT_MODES:
        raise ValueError(f'segments={segments!r}: must be one of '
                         f'{", ".join(map(repr, SEGMENT_MODES))}')
    core = ov.Core()
    if isinstance(model, str):
        model = onnx_to_openvino(model) if model.endswith('.onnx') else \
            core.read_model(model)
    # float32 for the float layers: on CPUs with bf16 support OpenVINO
    # would otherwise run them in bf16 by default
    properties = dict(INFERENCE_PRECISION_HINT='f32', **config)
    if threads is not None:
        properties['INFERENCE_NUM_THREADS'] = int(threads)
    if segments == 'auto' and needs_segments(model):
        return compile_segments(model, properties)
    return core.compile_model(model, 'CPU', properties)


def runtime_conv_report(compiled) -> Dict:
    """What the CPU plugin runs, from the compiled model's execution graph.

    Returns:
        dict: ``binary`` (name -> primitive type of each
        ``BinaryConvolution``; the name is the PyTorch module's, with
        ``#2``, ``#3``, ... for further applications of one module),
        ``float`` (the same for each float convolution layer) and
        ``binarization`` (the number of ``FakeQuantize`` layers that write
        1-bit outputs).
    """
    import openvino as ov
    report = dict(binary={}, float={}, binarization=0)
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer = info['layerType'].astype(str)
        primitive = info['primitiveType'].astype(str)
        kind = 'binary' if layer == 'BinaryConvolution' else \
            'float' if layer in FLOAT_CONV_TYPES else None
        if kind is not None:
            name, copies = op.get_friendly_name(), 1
            while name in report[kind]:  # a module applied more than once
                copies += 1
                name = f'{op.get_friendly_name()}#{copies}'
            report[kind][name] = primitive
        elif layer == 'FakeQuantize' and \
                op.get_output_element_type(0) == ov.Type.u1:
            report['binarization'] += 1
    return report


def check_bit_order() -> None:
    """Run a small binary conv on OpenVINO's CPU plugin and compare it to
    PyTorch: fails if the installed OpenVINO reads ``u1`` weights in
    another bit order or pads differently than assumed here.

    Raises:
        RuntimeError: When the results differ.
    """
    import openvino as ov
    opset1, ops = _ops()
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(11, 24, 3, 3, generator=gen)
    x = torch.randn(1, 24, 5, 6, generator=gen)
    threshold = torch.randn(24, generator=gen) * 0.1
    param = ops.parameter([1, 24, 5, 6], np.float32, name='x')
    y = build_binary_conv(param.output(0), threshold.numpy(),
                          pack_signs(weight).numpy(), weight.shape,
                          np.ones(11, np.float32), np.zeros(11, np.float32),
                          (1, 1), (1, 1), (1, 1))
    got = compile_model(ov.Model([y], [param]))([x.numpy()])[0]
    expected = F.conv2d(hard_sign(x - threshold.view(1, -1, 1, 1)),
                        hard_sign(weight), padding=1).numpy()
    if not np.array_equal(got, expected):
        raise RuntimeError(
            'OpenVINO\'s BinaryConvolution differs from the PyTorch binary '
            f'conv (max abs difference {np.abs(got - expected).max()}): the '
            'installed OpenVINO reads u1 weights or pads differently than '
            'mmbnn.deploy.openvino_graph assumes')
