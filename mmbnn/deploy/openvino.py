# Copyright (c) mmbnn contributors. All rights reserved.
"""Binary detectors on OpenVINO: ONNX export and 1-bit convolutions on CPU.

The tensor part of a detector (backbone, neck and the raw outputs of the
dense heads) is exported with ``torch.onnx`` and converted to an OpenVINO
model in which every binarized conv is an opset1 ``BinaryConvolution``,
which OpenVINO's CPU plugin runs with its XNOR-popcount JIT kernels
(``jit_avx512_u1`` / ``jit_avx2_u1``). The post-processing (anchors,
proposals, NMS, the RoI head) stays in PyTorch, as in mmdeploy; see
:class:`OpenVINODetector`.

**The ONNX form.** A binarized conv (1-bit weights and activations) is one
node ``mmbnn::BinaryConv2d`` (domain ``mmbnn``, version 1) with inputs
``X``, ``threshold`` (``C``), ``weight_bits`` (the weight signs packed as in
:mod:`mmbnn.deploy.packing`), ``scale`` (``O``) and ``bias`` (``O``), and
the attributes ``weight_shape``, ``kernel_shape``, ``strides``, ``pads``
(ONNX order), ``dilations`` and ``name`` (the PyTorch module). It computes
``conv(sign(X - threshold), sign(W)) * scale + bias`` with zero padding of
the binarized input and ``sign(0) = +1``, as :class:`~mmbnn.ops.BinaryConv`
does. Every other layer is a standard ONNX op. :func:`onnx_to_openvino`
converts the node (a ``ConversionExtension`` of OpenVINO's ONNX frontend);
OpenVINO without it refuses the file ("No conversion rule found for
operations: mmbnn.BinaryConv2d") rather than computing something else.

**The OpenVINO form of one binarized conv**::

    FakeQuantize(X, t', t', 0, 1, levels=2) -> BinaryConvolution(
        bits, pad_value=0, mode='xnor-popcount') -> * scale -> + bias

* ``FakeQuantize`` with ``levels=2``, output range ``(0, 1)`` and
  ``input_low == input_high`` is the CPU plugin's binarization: it writes
  one bit per value, set where ``X > input_low`` (``FakeQuantize::
  FakeQuantize`` and ``jit_uni_binarization_kernel`` in
  ``src/plugins/intel_cpu/src/nodes/fake_quantize.cpp``). ``t'`` is the
  largest float32 below the threshold, so the bit is set exactly where
  ``X >= threshold``. (An output range ``(-1, 1)`` is not binarized by the
  CPU plugin; with ``input_low == input_high`` its results are wrong.)
* In ``xnor-popcount`` mode a clear bit is -1 and a set bit +1; the output
  is the exact integer ``sum(s * w)`` over the kernel taps (BinaryConvolution-1
  specification). ``pad_value=0`` makes border taps contribute 0: the CPU
  kernel then skips them (``exclude_pad`` in
  ``src/plugins/intel_cpu/src/nodes/bin_conv.cpp``), which is the training
  layer's zero padding of the binarized input. (OpenVINO's own
  ``ConvToBinaryConv`` pass gives ``pad_value=-1`` for a 0/1 input, i.e.
  a different border.)
* The ``u1`` weight constant holds the bytes of
  :func:`~mmbnn.deploy.pack_signs`: bit ``i % 8`` of byte ``i // 8`` is
  weight ``i`` of the flat OIHW tensor, the order in which the CPU plugin
  reads it and in which ``ConvToBinaryConv`` writes it
  (``src/common/transformations/src/transformations/common_optimizations/
  conv_to_binary_conv.cpp``). The constant is made from these raw bytes;
  a ``u1`` constant made by OpenVINO's Python API from an array of 0/1
  values is packed in the opposite bit order. :func:`check_bit_order`
  verifies the convention on the installed OpenVINO.
* The CPU JIT kernel takes left / right paddings up to its width unroll
  (2 output columns on AVX2 / SSE4.1, 4 on AVX-512) and refuses larger
  ones ("has unsupported parameters", ``BinaryConvolution::
  createPrimitive``). Such a conv (SSD's fc6: padding 6, dilation 6) gets
  an explicit ``Pad`` of its float input with the lowest float32 (so the
  padded taps binarize to -1) and a constant correction of the output that
  removes their contribution, ``+ sum of w over the padded taps`` per
  output position: the same integers as zero padding. The correction is
  a ``(1, O, H_out, W_out)`` constant, so only these convs carry one.

**Three CPU-plugin behaviours this form works around** (openvino 2026.4.1):

* The plugin fuses a binarization into the binary conv that produces its
  input (``BinaryConvolution::canFuse``), and an ``Add`` after that conv
  into it as an in-place sum; with both fused, the output is wrong (the
  sum reads the conv's 1-bit output buffer as its addend). A binarization
  is fused only if each of its range constants has no other consumer, so
  ``input_low`` and ``input_high`` are one shared constant: no
  binarization is ever fused into a conv. (Here a binary conv's output is
  mostly also a residual, which already prevents that fusion.)
* ReActNet's RPReLU, ``PReLU(x - gamma) + zeta`` written as ``Sub ->
  PRelu -> Add``, between a binary conv whose output gets a residual
  ``Add`` and the next binarization, gives wrong results once the slopes
  differ between channels and the shifts are non-zero (a trained
  network): the plugin moves the shifts into its neighbours (the
  preceding conv's epilogue, the next binarization's thresholds, the next
  residual sum) and computes something else. The export writes it as
  ``relu(y) + slope * min(y, 0) + zeta`` (:class:`OnnxRPReLU`), which the
  plugin runs as one element-wise subgraph, correctly.
* The results are wrong when a binary conv's input channels are not a
  multiple of 8 (observed; the kernel addresses the 1-bit activations of
  a pixel in whole bytes, ``div_up(ic, 8)``); such a layer is refused
  (export it with ``binary=False``).

**Exactness.** The popcount sums are exact integers; scale and bias are
applied as ``sum * scale + bias`` (OpenVINO fuses them into the kernel's
output stage), whereas the PyTorch layer sums ``+-scale`` terms in float.
The two agree to float32 rounding (relative 1e-6), as do the float
layers. Through a network, such a difference flips a binarized activation
that lies within rounding of its threshold, and the flip changes the
following layers (in a random-weight network, all of them); the tests
compare whole networks with thresholds placed away from the values.

Shapes are static: the model is exported for one input size, batch 1;
:class:`OpenVINODetector` pads smaller images to it.
"""
import copy
import json
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.binarizers import hard_sign
from ..ops.binary_conv import BinaryConv
from ..utils import set_submodule
from .packed_conv import PackedBinaryConv
from .packing import pack_signs, unpack_signs

ONNX_DOMAIN = 'mmbnn'
ONNX_DOMAIN_VERSION = 1
BINARY_CONV_OP = 'BinaryConv2d'
# opset of the standard ONNX ops in the exported file
ONNX_OPSET = 17
# metadata key of the export info in the ONNX file and the OpenVINO model
EXPORT_INFO_KEY = 'mmbnn_export_info'
# output columns the CPU plugin's binary conv kernel unrolls on AVX2 and
# SSE4.1 (4 on AVX-512): the largest left / right padding it takes
JIT_UR_W = 2
FLT_LOWEST = float(np.finfo(np.float32).min)
# input channels of a binarized conv must be a multiple of this: the CPU
# plugin packs 1-bit activations per pixel in whole bytes, and its results
# are wrong for other channel counts (checked with openvino 2026.4.1)
BINARY_CHANNEL_MULTIPLE = 8
# runtime layer types counted by :func:`runtime_conv_report`
FLOAT_CONV_TYPES = ('Convolution', 'GroupConvolution', 'Deconvolution')


def _pair(value) -> Tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,
                                                                  value)


# ---------------------------------------------------------------- export


class _BinaryConv2dFunction(torch.autograd.Function):
    """Traced as one ``mmbnn::BinaryConv2d`` node; computes the layer's
    float reference so tracing sees the right values and shapes."""

    @staticmethod
    def forward(ctx, x: Tensor, threshold: Tensor, weight_bits: Tensor,
                scale: Tensor, bias: Tensor, weight_shape: Tuple[int, ...],
                stride: Tuple[int, int], padding: Tuple[int, int],
                dilation: Tuple[int, int], name: str) -> Tensor:
        signs = hard_sign(x - threshold.view(1, -1, 1, 1))
        weight = unpack_signs(weight_bits, weight_shape, x.dtype)
        y = F.conv2d(signs, weight, None, stride, padding, dilation)
        return y * scale.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)

    @staticmethod
    def symbolic(g, x, threshold, weight_bits, scale, bias, weight_shape,
                 stride, padding, dilation, name):
        weight_shape = [int(s) for s in weight_shape]
        out = g.op(
            f'{ONNX_DOMAIN}::{BINARY_CONV_OP}', x, threshold, weight_bits,
            scale, bias,
            weight_shape_i=weight_shape,
            kernel_shape_i=weight_shape[2:],
            strides_i=list(stride),
            pads_i=[padding[0], padding[1], padding[0], padding[1]],
            dilations_i=list(dilation),
            name_s=name)
        sizes = x.type().sizes()
        if sizes is not None and None not in sizes:
            spatial = [
                (sizes[2 + i] + 2 * padding[i] - dilation[i] *
                 (weight_shape[2 + i] - 1) - 1) // stride[i] + 1
                for i in range(2)
            ]
            out.setType(x.type().with_sizes(
                [sizes[0], weight_shape[0], *spatial]))
        return out


class OnnxBinaryConv(nn.Module):
    """A binarized conv as the exporter writes it (``mmbnn::BinaryConv2d``).

    Built from a :class:`~mmbnn.deploy.PackedBinaryConv` that binarizes
    its input; missing scale / threshold / bias become 1 / 0 / 0.

    Args:
        conv (PackedBinaryConv): The deploy layer (unfused, groups 1).
        name (str): Its module name, kept in the ONNX node.
    """

    def __init__(self, conv: PackedBinaryConv, name: str) -> None:
        super().__init__()
        out_channels, in_channels = conv.out_channels, conv.in_channels
        self.name = name
        self.stride, self.padding = conv.stride, conv.padding
        self.dilation = conv.dilation
        self.weight_shape = tuple(conv.weight_shape)
        self.register_buffer('weight_bits', conv.packed_weight.clone())
        self.register_buffer(
            'threshold',
            torch.zeros(in_channels) if conv.threshold is None else
            conv.threshold.detach().reshape(-1).float().clone())
        self.register_buffer(
            'scale',
            torch.ones(out_channels) if conv.scale is None else
            conv.scale.detach().reshape(-1).float().clone())
        self.register_buffer(
            'bias',
            torch.zeros(out_channels) if conv.bias is None else
            conv.bias.detach().reshape(-1).float().clone())

    def forward(self, x: Tensor) -> Tensor:
        return _BinaryConv2dFunction.apply(
            x, self.threshold, self.weight_bits, self.scale, self.bias,
            self.weight_shape, self.stride, self.padding, self.dilation,
            self.name)


class FloatConvOnSigns(nn.Module):
    """``conv(sign(x - b), W) + bias`` with float weights, in standard ONNX
    ops (OpenVINO runs it as a float convolution).

    The export of a conv that binarizes only its input (a ``BinaryConv``
    with ``binarize_weight=False``), and of every binarized conv when
    :func:`export_onnx` is asked for float convs (``binary=False``: the
    same network for runtimes without binary convolutions, and the FP32
    baseline of the benchmarks).

    Args:
        weight (Tensor): ``(O, C / groups, kh, kw)``.
        bias (Tensor, optional): ``O``.
        threshold (Tensor, optional): ``C`` (broadcast as ``(1, C, 1, 1)``).
        stride, padding, dilation (tuple[int, int]): Geometry.
        groups (int): Conv groups.
    """

    def __init__(self, weight: Tensor, bias: Optional[Tensor],
                 threshold: Optional[Tensor], stride, padding, dilation,
                 groups: int = 1) -> None:
        super().__init__()
        self.stride, self.padding = _pair(stride), _pair(padding)
        self.dilation, self.groups = _pair(dilation), groups
        self.register_buffer('weight', weight.detach().float().clone())
        self.register_buffer(
            'bias', None if bias is None else
            bias.detach().reshape(-1).float().clone())
        self.register_buffer(
            'threshold', None if threshold is None else
            threshold.detach().reshape(1, -1, 1, 1).float().clone())

    def forward(self, x: Tensor) -> Tensor:
        if self.threshold is not None:
            x = x - self.threshold
        return F.conv2d(hard_sign(x), self.weight, self.bias, self.stride,
                        self.padding, self.dilation, self.groups)


class OnnxRPReLU(nn.Module):
    """:class:`~mmbnn.models.layers.RPReLU` written as
    ``relu(y) + slope * min(y, 0) + zeta`` with ``y = x - gamma``: the
    same values, in ONNX ops that keep OpenVINO's CPU plugin away from a
    rewrite that gives wrong results (see the module doc).

    Args:
        module (RPReLU): The trained activation (its values are copied).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.register_buffer('shift_in', module.shift_in.detach().clone())
        self.register_buffer(
            'slope', module.prelu.weight.detach().reshape(1, -1, 1,
                                                          1).clone())
        self.register_buffer('shift_out', module.shift_out.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        y = x - self.shift_in
        return torch.relu(y) + self.slope * torch.minimum(
            y, y.new_zeros(())) + self.shift_out


def _float_weight_conv(conv: PackedBinaryConv) -> nn.Conv2d:
    """A conv with binarized weights and real input: ``nn.Conv2d`` with the
    float weights ``alpha * sign(W)`` (OpenVINO runs it in float)."""
    real = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                     conv.stride, conv.padding, conv.dilation, conv.groups,
                     conv.bias is not None)
    with torch.no_grad():
        real.weight.copy_(conv.reference_weight())
        if conv.bias is not None:
            real.bias.copy_(conv.bias)
    return real


def prepare_for_export(model: nn.Module,
                       binary: bool = True) -> Tuple[nn.Module, List[str]]:
    """A copy of the deploy model whose binarized layers export to ONNX.

    A :class:`PackedBinaryConv` that binarizes its input becomes an
    :class:`OnnxBinaryConv` (a ``BinaryConvolution`` in OpenVINO; with
    ``binary=False`` a :class:`FloatConvOnSigns` on ``alpha * sign(W)``),
    one with real input a plain conv with weights ``alpha * sign(W)``; a
    ``BinaryConv`` that binarizes only its input becomes a
    :class:`FloatConvOnSigns`.

    Args:
        model (nn.Module): A deploy model (:func:`~mmbnn.deploy.
            convert_to_deploy`, unfused).
        binary (bool): Export binarized convs as ``mmbnn::BinaryConv2d``.
            Defaults to True.

    Returns:
        tuple: The copy (eval mode) and the names of the convs exported as
        ``mmbnn::BinaryConv2d`` (those that become ``BinaryConvolution``).

    Raises:
        ValueError: For a layer the export does not support; the message
            names it: a fused deploy conv, a grouped binary conv or one
            whose input channels are not a multiple of 8, a ``BinaryConv``
            still in training form with binarized weights,
            a training-only child (SURGE / StoMPP) left on a layer, or a
            padding mode other than zeros.
    """
    from ..models.layers import RPReLU
    model = copy.deepcopy(model).eval()
    binary_names = []
    for name, module in list(model.named_modules()):
        if isinstance(module, RPReLU):
            set_submodule(model, name, OnnxRPReLU(module))
        elif isinstance(module, PackedBinaryConv):
            if module.act_slope is not None:
                raise ValueError(
                    f'{name}: a fused deploy conv (shortcut add and '
                    'activation in its epilogue); export the unfused deploy '
                    'form (convert_to_deploy(..., fuse=False))')
            if not module.binarize_act:
                set_submodule(model, name, _float_weight_conv(module))
            elif not binary:
                set_submodule(
                    model, name,
                    FloatConvOnSigns(module.reference_weight(), module.bias,
                                     module.threshold, module.stride,
                                     module.padding, module.dilation,
                                     module.groups))
            elif module.groups != 1:
                raise ValueError(
                    f'{name}: groups={module.groups}; OpenVINO\'s '
                    'BinaryConvolution has no groups, only groups=1 binary '
                    'convs can be exported (or export with binary=False)')
            elif module.in_channels % BINARY_CHANNEL_MULTIPLE:
                raise ValueError(
                    f'{name}: {module.in_channels} input channels; a '
                    'BinaryConvolution needs a multiple of '
                    f'{BINARY_CHANNEL_MULTIPLE} (or export with '
                    'binary=False)')
            else:
                set_submodule(model, name, OnnxBinaryConv(module, name))
                binary_names.append(name)
        elif isinstance(module, BinaryConv) and module.is_binary:
            if module.binarize_weight:
                raise ValueError(
                    f'{name}: a training BinaryConv with binarized weights; '
                    'convert the model with convert_to_deploy first')
            if module.compensator is not None or \
                    module.progressive is not None:
                raise ValueError(
                    f'{name}: training-only SURGE / StoMPP state; convert '
                    'the model with convert_to_deploy first')
            if module.padding_mode != 'zeros' or isinstance(
                    module.padding, str):
                raise ValueError(
                    f'{name}: padding={module.padding!r}, padding_mode='
                    f"{module.padding_mode!r}; only integer padding with "
                    "padding_mode='zeros' is exported")
            set_submodule(
                model, name,
                FloatConvOnSigns(module.weight, module.bias,
                                 module.threshold, module.stride,
                                 module.padding, module.dilation,
                                 module.groups))
    return model, binary_names


class DetectorTensorPart(nn.Module):
    """The exported part of an mmdet detector: ``img -> flat outputs``.

    Two-stage detectors (an ``rpn_head`` and a ``roi_head``): the neck
    features followed by the RPN's class scores and box deltas per level;
    the RoI head runs in PyTorch on the features. Single-stage detectors
    (a ``bbox_head``): the head's class scores and box deltas per level.

    Args:
        detector (nn.Module): An mmdet detector (deploy form).
    """

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        self.two_stage = getattr(detector, 'with_rpn', False) and \
            getattr(detector, 'with_roi_head', False)
        if not self.two_stage and getattr(detector, 'bbox_head',
                                          None) is None:
            raise ValueError(
                f'{type(detector).__name__}: export supports two-stage '
                'detectors with an RPN and single-stage detectors with a '
                'bbox_head')
        self.layout: Optional[Dict[str, int]] = None

    def forward(self, img: Tensor) -> Tuple[Tensor, ...]:
        feats = self.detector.extract_feat(img)
        if self.two_stage:
            cls_scores, bbox_preds = self.detector.rpn_head(feats)
            self.layout = dict(feats=len(feats), levels=len(cls_scores))
            return (*feats, *cls_scores, *bbox_preds)
        outs = self.detector.bbox_head(feats)
        if len(outs) != 2:
            raise ValueError(
                f'{type(self.detector.bbox_head).__name__}.forward returns '
                f'{len(outs)} lists; export supports heads returning '
                '(cls_scores, bbox_preds)')
        cls_scores, bbox_preds = outs
        self.layout = dict(feats=0, levels=len(cls_scores))
        return (*cls_scores, *bbox_preds)


def output_names(layout: Dict[str, int]) -> List[str]:
    """Names of the flat outputs of :class:`DetectorTensorPart`."""
    names = [f'feat{i}' for i in range(layout['feats'])]
    prefix = 'rpn_' if layout['feats'] else ''
    names += [f'{prefix}cls{i}' for i in range(layout['levels'])]
    names += [f'{prefix}reg{i}' for i in range(layout['levels'])]
    return names


def split_outputs(outputs: Sequence, layout: Dict[str, int]):
    """``(feats, cls_scores, bbox_preds)`` from the flat outputs."""
    num_feats, levels = layout['feats'], layout['levels']
    feats = tuple(outputs[:num_feats])
    cls_scores = list(outputs[num_feats:num_feats + levels])
    bbox_preds = list(outputs[num_feats + levels:num_feats + 2 * levels])
    return feats, cls_scores, bbox_preds


def export_onnx(model: nn.Module,
                out: str,
                shape: Tuple[int, int],
                binary: bool = True) -> Dict:
    """Export the tensor part of a deploy detector to ONNX (batch 1).

    Args:
        model (nn.Module): An mmdet detector in deploy form
            (:func:`~mmbnn.deploy.convert_to_deploy`, unfused).
        out (str): The ``.onnx`` file to write.
        shape (tuple[int, int]): Input height and width (static).
        binary (bool): Binarized convs as ``mmbnn::BinaryConv2d`` (True)
            or as float convs on +-1 values in standard ONNX ops.
            Defaults to True.

    Returns:
        dict: The export info, also stored in the file's metadata
        (:func:`read_export_info`): ``layout`` (see :func:`output_names`),
        ``input_shape``, ``output_names``, ``binary_convs`` (the module
        names of the convs exported as ``mmbnn::BinaryConv2d``) and
        ``binary_nodes`` (the number of such nodes: a module applied to
        several pyramid levels gives one per level).
    """
    import onnx
    prepared, binary_names = prepare_for_export(model, binary=binary)
    part = DetectorTensorPart(prepared).eval()
    dummy = torch.zeros(1, 3, *shape)
    with torch.no_grad():
        part(dummy)
    names = output_names(part.layout)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with warnings.catch_warnings():
        # the tracer's warnings on shapes read as Python ints: the export
        # is static by design
        warnings.simplefilter('ignore')
        # autograd_inlining=False: the exporter would otherwise trace into
        # the custom node's Python forward (and fails on a second one)
        torch.onnx.export(
            part, (dummy, ), out, dynamo=False, opset_version=ONNX_OPSET,
            input_names=['img'], output_names=names,
            custom_opsets={ONNX_DOMAIN: ONNX_DOMAIN_VERSION},
            do_constant_folding=True, autograd_inlining=False)
    proto = onnx.load(out)
    nodes = sum(node.op_type == BINARY_CONV_OP and node.domain == ONNX_DOMAIN
                for node in proto.graph.node)
    info = dict(layout=part.layout, input_shape=[1, 3, *shape],
                output_names=names, binary=bool(binary),
                binary_convs=binary_names, binary_nodes=nodes)
    entry = proto.metadata_props.add()
    entry.key, entry.value = EXPORT_INFO_KEY, json.dumps(info)
    onnx.save(proto, out)
    return info


def read_export_info(source) -> Dict:
    """The export info of :func:`export_onnx`, from an ``.onnx`` file, an
    OpenVINO IR ``.xml`` file or an ``openvino.Model`` made by
    :func:`onnx_to_openvino`.

    Raises:
        ValueError: If ``source`` carries no mmbnn export info.
    """
    if isinstance(source, str) and source.endswith('.onnx'):
        import onnx
        proto = onnx.load(source, load_external_data=False)
        meta = {p.key: p.value for p in proto.metadata_props}
        text = meta.get(EXPORT_INFO_KEY)
    else:
        model = source
        if isinstance(source, str):
            import openvino as ov
            model = ov.Core().read_model(source)
        text = None
        if model.has_rt_info(['mmbnn', EXPORT_INFO_KEY]):
            text = model.get_rt_info(['mmbnn', EXPORT_INFO_KEY]).astype(str)
    if not text:
        raise ValueError(f'{source} carries no mmbnn export info '
                         f'({EXPORT_INFO_KEY!r}); export it with '
                         'tools/deploy/export_onnx.py')
    return json.loads(text)


# ------------------------------------------------------ OpenVINO graph


def _ops():
    import openvino.opset1 as opset1
    import openvino.opset13 as opset13
    return opset1, opset13


def threshold_below(threshold: np.ndarray) -> np.ndarray:
    """The largest float32 below each threshold: ``x > t'`` is
    ``x >= t`` for every float32 ``x``."""
    threshold = np.asarray(threshold, dtype=np.float32)
    if not np.all(np.isfinite(threshold)) or np.any(
            threshold <= np.float32(FLT_LOWEST)):
        raise ValueError('activation thresholds must be finite and above '
                         'the lowest float32')
    return np.nextafter(threshold, np.float32(-np.inf)).astype(np.float32)


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
    # binary conv (see the module doc)
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
    """Read an ONNX file from :func:`export_onnx` as an OpenVINO model.

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


def compile_model(model, threads: Optional[int] = None, **config):
    """Compile an OpenVINO model (or an ``.xml`` / ``.onnx`` path) for CPU.

    Args:
        model: ``openvino.Model`` or a path (an ``.onnx`` file is read with
            :func:`onnx_to_openvino`).
        threads (int, optional): ``INFERENCE_NUM_THREADS``.
        **config: Further CPU properties (``INFERENCE_PRECISION_HINT``
            defaults to ``'f32'``).
    """
    import openvino as ov
    core = ov.Core()
    if isinstance(model, str):
        model = onnx_to_openvino(model) if model.endswith('.onnx') else \
            core.read_model(model)
    # float32 for the float layers: on CPUs with bf16 support OpenVINO
    # would otherwise run them in bf16 by default
    properties = dict(INFERENCE_PRECISION_HINT='f32', **config)
    if threads is not None:
        properties['INFERENCE_NUM_THREADS'] = int(threads)
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
            'mmbnn.deploy.openvino assumes')


# ------------------------------------------------------------- runtime


def load_detector(config: str,
                  checkpoint: Optional[str] = None,
                  cfg_options: Optional[dict] = None,
                  force: bool = False) -> nn.Module:
    """The deploy form (unfused, float reference backend) of a detector.

    Args:
        config (str): The training config.
        checkpoint (str, optional): A training checkpoint of it or a deploy
            checkpoint (:func:`~mmbnn.deploy.export_deploy_checkpoint`; then
            ``config`` may be None: the file holds its config). None: the
            weights the config initialises (nothing is downloaded only if
            the config's ``init_cfg`` needs no download).
        cfg_options (dict, optional): Overrides merged into the config.
        force (bool): Convert an unfinished StoMPP model anyway.

    Returns:
        nn.Module: The deploy model (eval mode), with ``cfg`` set.

    Raises:
        ValueError: For a fused deploy checkpoint (export its unfused form).
    """
    from .conversion import convert_to_deploy
    from .export import (build_detector, is_deploy_checkpoint, load_config,
                         load_deploy_model)
    if checkpoint is not None and is_deploy_checkpoint(checkpoint):
        data = torch.load(checkpoint, map_location='cpu', weights_only=True)
        if data['meta'].get('fused'):
            raise ValueError(
                f'{checkpoint} is a fused deploy checkpoint; export the '
                'unfused one (tools/deploy/export.py without --fuse)')
        return load_deploy_model(checkpoint, backend='reference')
    from ..distill import load_student_checkpoint, student_config

    # a distillation config gives its student alone (as the deploy export)
    cfg = student_config(load_config(config, cfg_options))
    model = build_detector(cfg)
    if checkpoint is not None:
        load_student_checkpoint(model, checkpoint)
    else:
        model.init_weights()
    model = convert_to_deploy(model.eval(), backend='reference', force=force)
    model.cfg = cfg
    return model


def static_input_shape(cfg) -> Tuple[int, int]:
    """The static network input for ``cfg``: its test pipeline's largest
    image (the ``Resize`` scale, landscape; see
    :func:`mmbnn.analysis.complexity.default_input_shape`) padded up to the
    data preprocessor's ``pad_size_divisor``."""
    from ..analysis.complexity.detector import default_input_shape
    height, width = default_input_shape(cfg)
    divisor = cfg.model.get('data_preprocessor', {}).get(
        'pad_size_divisor', 1) or 1
    return (-(-height // divisor) * divisor, -(-width // divisor) * divisor)


class NetworkSplitDetector(nn.Module):
    """An mmdet detector whose tensor part (:class:`DetectorTensorPart`: the
    features and the dense heads' raw outputs) is computed by
    :meth:`run_network`, the rest in PyTorch with the detector's own
    modules: for a two-stage detector ``rpn_head.predict_by_feat`` (anchors,
    proposal NMS) and the whole RoI head (``roi_head.predict``), for a
    single-stage one ``bbox_head.predict_by_feat``. It predicts
    ``DetDataSample`` s as the detector does (``predict``, ``test_step``,
    and so ``mmdet.apis.inference_detector``).

    Args:
        detector (nn.Module): The PyTorch detector (its deploy form), for
            the data preprocessor, the heads' post-processing, ``cfg`` and
            ``dataset_meta``.
        two_stage (bool): Whether the network's outputs are the neck
            features followed by the RPN's (else a single-stage head's).
    """

    def __init__(self, detector: nn.Module, two_stage: bool) -> None:
        super().__init__()
        self.detector = detector.eval()
        self.cfg = getattr(detector, 'cfg', None)
        self.dataset_meta = getattr(detector, 'dataset_meta', None)
        self.two_stage = bool(two_stage)
        #: the output layout (:func:`split_outputs`), known at the latest
        #: after the first :meth:`run_network`
        self.layout: Optional[Dict[str, int]] = None
        # the detector's post-processing modules, at the paths the
        # benchmark's stage timers look for
        for name in ('rpn_head', 'roi_head', 'bbox_head'):
            module = getattr(detector, name, None)
            if module is not None:
                self.add_module(name, module)

    @property
    def data_preprocessor(self) -> nn.Module:
        return self.detector.data_preprocessor

    def run_network(self, batch_inputs: Tensor) -> List[Tensor]:
        """The network's outputs for a preprocessed batch (per output, the
        images concatenated along the batch axis)."""
        raise NotImplementedError

    def predict(self, batch_inputs: Tensor, batch_data_samples: list,
                rescale: bool = True) -> list:
        """Detections as ``detector.predict`` returns them."""
        outputs = self.run_network(batch_inputs)
        feats, cls_scores, bbox_preds = split_outputs(outputs, self.layout)
        metas = [sample.metainfo for sample in batch_data_samples]
        detector = self.detector
        if self.two_stage:
            proposals = detector.rpn_head.predict_by_feat(
                cls_scores, bbox_preds, batch_img_metas=metas, rescale=False)
            results = detector.roi_head.predict(
                feats, proposals, batch_data_samples, rescale=rescale)
        else:
            results = detector.bbox_head.predict_by_feat(
                cls_scores, bbox_preds, batch_img_metas=metas,
                rescale=rescale)
        return detector.add_pred_to_datasample(batch_data_samples, results)

    def test_step(self, data: dict) -> list:
        """Preprocess ``data`` and predict, as ``BaseDetector.test_step``."""
        data = self.data_preprocessor(data, False)
        return self.predict(data['inputs'], data['data_samples'])

    def forward(self, inputs: Tensor, data_samples: Optional[list] = None,
                mode: str = 'predict'):
        if mode != 'predict':
            raise ValueError(f'mode={mode!r}: {type(self).__name__} only '
                             "predicts (mode='predict')")
        return self.predict(inputs, data_samples)


class Float64NetworkDetector(NetworkSplitDetector):
    """The detector with its tensor part (what :class:`OpenVINODetector`
    runs on OpenVINO) in float64, in PyTorch on CPU: the reference against
    which float32 runtimes are compared.

    In float32 a binarized activation that lies within rounding of its
    threshold flips with the summation order, and the flip changes the
    layers after it, so two float32 runtimes (PyTorch's and OpenVINO's)
    each differ from the trained network's exact function on a few images.
    Float64 rounding is 2**29 times finer: its outputs are the exact
    network's in practice. The post-processing runs as in
    :class:`OpenVINODetector`, in float32.

    ``layout`` is known after the first :meth:`run_network`.

    Args:
        detector (nn.Module): The PyTorch detector (its deploy form); its
            tensor part is copied to float64.
    """

    def __init__(self, detector: nn.Module) -> None:
        network = DetectorTensorPart(copy.deepcopy(detector).double())
        super().__init__(detector, network.two_stage)
        self.network = network.eval()

    @classmethod
    def from_checkpoint(cls, cfg, checkpoint: str,
                        force: bool = False) -> 'Float64NetworkDetector':
        """Load a trained (or unfused deploy) checkpoint of ``cfg`` (a
        distillation config gives its student, see :func:`load_detector`).
        """
        return cls(load_detector(cfg, checkpoint, force=force))

    def run_network(self, batch_inputs: Tensor) -> List[Tensor]:
        with torch.no_grad():
            outputs = self.network(batch_inputs.double())
        self.layout = self.network.layout
        return [output.float() for output in outputs]


class OpenVINODetector(NetworkSplitDetector):
    """An mmdet detector whose tensor part runs on OpenVINO (CPU).

    The compiled network (:func:`export_onnx` -> :func:`onnx_to_openvino`)
    computes the features and the dense heads' raw outputs; the rest runs
    in PyTorch with the detector's own modules (RoIAlign and the box head's
    FCs of a two-stage detector included), as in
    :class:`NetworkSplitDetector`.

    The network has a static input shape (batch 1): each image is padded
    at the bottom / right with zeros (the data preprocessor's pad value)
    to it, as mmdeploy's static models do; an image larger than it is an
    error (with ``export_dir``, a portrait image that fits the transposed
    shape runs on a network exported for it). The padding changes what
    the convs see near those borders, so detections there can differ a
    little from the PyTorch model's, whose batch is padded only to the size
    divisor. With ``per_shape`` the detector is instead exported and
    compiled once per input shape it meets (cached; the given network
    serves its own shape): no extra padding, the PyTorch model's outputs to
    float rounding.

    Args:
        detector (nn.Module): The PyTorch detector (its deploy form), for
            the data preprocessor, the heads' post-processing, ``cfg`` and
            ``dataset_meta``.
        network: The OpenVINO model: an ``.onnx`` / ``.xml`` path, an
            ``openvino.Model`` from :func:`onnx_to_openvino` or an
            ``openvino.CompiledModel`` of one (then give ``info``).
        threads (int, optional): ``INFERENCE_NUM_THREADS`` of OpenVINO.
        info (dict, optional): The export info (:func:`read_export_info`);
            read from ``network`` when not given.
        export_dir (str, optional): Where networks of other input shapes
            are exported when needed (``detector_HxW.onnx``): the
            transposed static shape for portrait images, or every shape in
            per-shape mode. None: only the given network runs.
        per_shape (bool): One network per input shape met (needs
            ``export_dir``). Each new shape costs an export and a compile,
            and every compiled network is kept: meant for test sets with
            few shapes (a keep-ratio VOC test set makes a few dozen).
            Defaults to False.
    """

    def __init__(self, detector: nn.Module, network,
                 threads: Optional[int] = None,
                 info: Optional[Dict] = None,
                 export_dir: Optional[str] = None,
                 per_shape: bool = False) -> None:
        import openvino as ov
        if isinstance(network, str):
            network = onnx_to_openvino(network) if network.endswith(
                '.onnx') else ov.Core().read_model(network)
        compiled = isinstance(network, ov.CompiledModel)
        if compiled and info is None:
            raise ValueError('a compiled network needs its export info '
                             '(info=read_export_info(model))')
        if info is None:
            info = read_export_info(network)
        super().__init__(detector, info['layout']['feats'] > 0)
        self.info = info
        self.network = _CompiledNetwork(
            network if compiled else compile_model(network, threads))
        self.threads = threads
        self.export_dir = export_dir
        self.per_shape = bool(per_shape)
        if self.per_shape and export_dir is None:
            raise ValueError('per_shape=True needs an export_dir')
        # (H, W) -> compiled network of that input shape
        self.shape_networks = {
            tuple(self.info['input_shape'][2:]): self.network
        }
        self.layout = self.info['layout']

    @classmethod
    def from_detector(cls, detector: nn.Module, shape: Tuple[int, int],
                      work_dir: str, threads: Optional[int] = None,
                      binary: bool = True,
                      per_shape: bool = False) -> 'OpenVINODetector':
        """Export ``detector`` for ``shape`` into ``work_dir``
        (``detector.onnx``) and wrap it; ``per_shape``: export one network
        per input shape met, into ``work_dir`` too."""
        path = osp.join(work_dir, 'detector.onnx')
        export_onnx(detector, path, shape, binary=binary)
        return cls(detector, path, threads, export_dir=work_dir,
                   per_shape=per_shape)

    @classmethod
    def from_checkpoint(cls, cfg, checkpoint: str, work_dir: str,
                        shape: Optional[Tuple[int, int]] = None,
                        threads: Optional[int] = None,
                        force: bool = False,
                        per_shape: bool = False) -> 'OpenVINODetector':
        """Load a trained (or unfused deploy) checkpoint of ``cfg``, export
        its network to ``work_dir/detector.onnx`` and wrap it.

        Args:
            cfg (Config | str): The training config (a distillation config
                gives its student).
            checkpoint (str): Training checkpoint or unfused deploy
                checkpoint.
            work_dir (str): Where the ONNX file is written.
            shape (tuple, optional): Static input ``(H, W)``; defaults to
                :func:`static_input_shape` of ``cfg``.
            threads (int, optional): OpenVINO's ``INFERENCE_NUM_THREADS``.
            force (bool): Convert an unfinished StoMPP model anyway.
            per_shape (bool): One network per input shape (see the class
                doc). Defaults to False.
        """
        from ..distill import student_config
        from .export import load_config
        cfg = student_config(load_config(cfg))
        detector = load_detector(cfg, checkpoint, force=force)
        if shape is None:
            shape = static_input_shape(cfg)
        os.makedirs(work_dir, exist_ok=True)
        return cls.from_detector(detector, tuple(shape), work_dir, threads,
                                 per_shape=per_shape)

    def run_network(self, batch_inputs: Tensor) -> List[Tensor]:
        outputs = []
        for image in batch_inputs.float().cpu():
            size = tuple(image.shape[1:])
            shape = size if self.per_shape else self._fixed_shape(size)
            image = F.pad(image,
                          (0, shape[1] - size[1], 0, shape[0] - size[0]))
            outputs.append(self._network_for(shape)(image[None]))
        return [torch.cat(level) for level in zip(*outputs)]

    def _fixed_shape(self, size: Tuple[int, int]) -> Tuple[int, int]:
        """The static input an image of ``size`` is padded to: the exported
        one, or with ``export_dir`` its transpose for a portrait image
        (``keep_ratio`` resizes make both orientations)."""
        height, width = self.info['input_shape'][2:]
        if size[0] <= height and size[1] <= width:
            return (height, width)
        if self.export_dir is not None and size[0] <= width and \
                size[1] <= height:
            return (width, height)
        raise ValueError(
            f'input image of {size} is larger than the exported network\'s '
            f'input ({height}, {width}); export it for a larger --shape')

    def _network_for(self, shape: Tuple[int, int]) -> nn.Module:
        """The compiled network of input ``shape`` (exported on first
        use)."""
        if shape not in self.shape_networks:
            path = osp.join(self.export_dir,
                            f'detector_{shape[0]}x{shape[1]}.onnx')
            info = export_onnx(self.detector, path, shape,
                               binary=self.info.get('binary', True))
            if info['layout'] != self.info['layout']:
                raise RuntimeError(f'the network exported for {shape} has '
                                   'another output layout')
            self.shape_networks[shape] = _CompiledNetwork(
                compile_model(path, self.threads))
        return self.shape_networks[shape]


class _CompiledNetwork(nn.Module):
    """A compiled OpenVINO model as a module (``forward`` is what the
    benchmark's stage timer measures as the network)."""

    def __init__(self, compiled) -> None:
        super().__init__()
        self.compiled = compiled
        self.request = compiled.create_infer_request()

    def forward(self, image: Tensor) -> List[Tensor]:
        results = self.request.infer([image.numpy()])
        return [torch.from_numpy(results[out].copy())
                for out in self.compiled.outputs]
