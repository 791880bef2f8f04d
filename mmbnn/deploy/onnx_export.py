# Copyright (c) mmbnn contributors. All rights reserved.
"""ONNX export of the tensor part of a binary detector.

Every binarized conv becomes one ``mmbnn::BinaryConv2d`` node
(:class:`OnnxBinaryConv`), or with ``binary=False`` a float conv on +-1
values in standard ONNX ops; every other layer is a standard ONNX op.
:mod:`.openvino_graph` turns the node into OpenVINO's
``BinaryConvolution``. The node, and why RPReLU and some layers are
written as they are, are described in ``docs/en/advanced_guides/
openvino.md``.
"""
import copy
import json
import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.binarizers import hard_sign
from ..ops.binary_conv import BinaryConv
from ..utils import set_submodule, to_pair
from .network_split import DetectorTensorPart, output_names
from .packed_conv import PackedBinaryConv
from .packing import unpack_signs

ONNX_DOMAIN = 'mmbnn'
ONNX_DOMAIN_VERSION = 1
BINARY_CONV_OP = 'BinaryConv2d'
# opset of the standard ONNX ops in the exported file
ONNX_OPSET = 17
# metadata key of the export info in the ONNX file and the OpenVINO model
EXPORT_INFO_KEY = 'mmbnn_export_info'
# input channels of a binarized conv must be a multiple of this: the CPU
# plugin packs 1-bit activations per pixel in whole bytes, and its results
# are wrong for other channel counts (checked with openvino 2026.4.1)
BINARY_CHANNEL_MULTIPLE = 8


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
        self.stride = to_pair(stride, 'stride')
        self.padding = to_pair(padding, 'padding')
        self.dilation, self.groups = to_pair(dilation, 'dilation'), groups
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
    rewrite that gives wrong results (see ``docs/en/advanced_guides/
    openvino.md``).

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
    :func:`~mmbnn.deploy.openvino_graph.onnx_to_openvino`.

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
