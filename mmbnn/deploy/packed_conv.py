# Copyright (c) mmbnn contributors. All rights reserved.
"""``PackedBinaryConv``: the inference form of a binarized ``BinaryConv``.

It stores what inference needs and nothing else: the signs of the weights
packed 1 bit each, the per-output-channel scale, the activation threshold
and the bias. Its forward runs the packed XNOR-popcount kernel
(:mod:`mmbnn.ops.xnor`) on CPU when it is built, and otherwise the float
reference, which repeats the training layer's float computation exactly
(same operands, same ``conv2d`` call), so a float-reference deploy model
predicts bit for bit what the trained model predicts.
"""
import functools
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.binarizers import hard_sign
from ..ops.binary_conv import BinaryConv
from ..utils import check_choice
from .packing import pack_signs, packed_size, unpack_signs

# 'auto': the packed kernel on CPU float32 inputs when it is built, else the
# float reference; 'kernel': the kernel or an error; 'reference': float.
BACKENDS = ('auto', 'kernel', 'reference')


@functools.lru_cache(maxsize=None)
def _xnor():
    """The kernel module, imported once (lazily: it may be unbuilt)."""
    from ..ops import xnor
    return xnor


@functools.lru_cache(maxsize=None)
def kernel_available() -> bool:
    """Whether the packed XNOR-popcount kernel can run here (checked once
    per process)."""
    try:
        return bool(_xnor().is_available())
    except ImportError:
        return False


class PackedBinaryConv(nn.Module):
    """A binary conv with 1-bit packed weights, for inference only.

    Computes ``conv(sign(x - b), alpha * sign(W)) + bias`` with zero padding
    of the binarized input, exactly as :class:`~mmbnn.ops.BinaryConv` does
    in evaluation mode. Built by :meth:`from_binary_conv` (or empty, with
    the right buffer shapes, for loading a deploy state dict).

    Args:
        in_channels, out_channels (int): Channels.
        kernel_size, stride, padding, dilation (tuple[int, int]): Geometry.
        groups (int): Conv groups.
        bias (bool): Whether a bias buffer is kept.
        scaled (bool): Whether a per-output-channel scale buffer is kept
            (``weight_scaling`` other than ``'none'``).
        binarize_act (bool): Whether the input is binarized (``sign(x - b)``).
        act_threshold (bool): Whether a threshold buffer is kept.
        backend (str): One of :data:`BACKENDS`. Defaults to ``'auto'``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Tuple[int, int],
                 stride: Tuple[int, int] = (1, 1),
                 padding: Tuple[int, int] = (0, 0),
                 dilation: Tuple[int, int] = (1, 1),
                 groups: int = 1,
                 bias: bool = False,
                 scaled: bool = True,
                 binarize_act: bool = True,
                 act_threshold: bool = False,
                 backend: str = 'auto') -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = tuple(kernel_size), tuple(stride)
        self.padding, self.dilation = tuple(padding), tuple(dilation)
        self.groups = groups
        self.binarize_act = binarize_act
        self.backend = check_choice('backend', backend, BACKENDS)
        self.weight_shape = (out_channels, in_channels // groups,
                             *self.kernel_size)
        numel = 1
        for size in self.weight_shape:
            numel *= size
        self.register_buffer(
            'packed_weight',
            torch.zeros(packed_size(numel), dtype=torch.uint8))
        self.register_buffer('scale',
                             torch.ones(out_channels) if scaled else None)
        self.register_buffer(
            'threshold',
            torch.zeros(1, in_channels, 1, 1)
            if binarize_act and act_threshold else None)
        self.register_buffer('bias',
                             torch.zeros(out_channels) if bias else None)
        # the fused epilogue (see :mod:`mmbnn.deploy.fusion`): an RPReLU /
        # PReLU after the residual, (O,) each; None: no activation
        self.register_buffer('act_shift_in', None)
        self.register_buffer('act_slope', None)
        self.register_buffer('act_shift_out', None)
        self._cache = {}

    @classmethod
    def from_binary_conv(cls, conv: BinaryConv,
                         backend: str = 'auto') -> 'PackedBinaryConv':
        """The deploy form of a trained ``BinaryConv`` (weights binarized).

        The scale is the one the layer applies in evaluation mode,
        :meth:`BinaryConv.weight_scale`.
        """
        if not conv.binarize_weight:
            raise ValueError(f'{conv!r} does not binarize its weights; only '
                             'binarized weights can be packed')
        if conv.padding_mode != 'zeros' or isinstance(conv.padding, str):
            raise ValueError(
                f'padding={conv.padding!r}, padding_mode='
                f'{conv.padding_mode!r}: the deploy conv supports integer '
                "padding with padding_mode='zeros'")
        module = cls(
            conv.in_channels, conv.out_channels, conv.kernel_size,
            conv.stride, conv.padding, conv.dilation, conv.groups,
            bias=conv.bias is not None,
            scaled=conv.weight_scaling != 'none',
            binarize_act=conv.binarize_act,
            act_threshold=conv.threshold is not None,
            backend=backend).to(conv.weight.device)
        with torch.no_grad():
            module.packed_weight.copy_(pack_signs(conv.weight))
            scale = conv.weight_scale()
            if scale is not None:
                module.scale.copy_(scale.reshape(-1))
            if module.threshold is not None:
                module.threshold.copy_(conv.threshold)
            if module.bias is not None:
                module.bias.copy_(conv.bias)
        return module

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._cache.clear()
        super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        self._cache.clear()
        return super()._apply(fn, *args, **kwargs)

    def sign_weight(self) -> Tensor:
        """The +-1 weights, unpacked once and cached."""
        if 'sign' not in self._cache:
            self._cache['sign'] = unpack_signs(self.packed_weight,
                                               self.weight_shape)
        return self._cache['sign']

    def reference_weight(self) -> Tensor:
        """``alpha * sign(W)`` as the training layer computes it."""
        if 'reference' not in self._cache:
            weight = self.sign_weight()
            if self.scale is not None:
                weight = weight * self.scale.view(-1, 1, 1, 1)
            self._cache['reference'] = weight
        return self._cache['reference']

    def binary_input(self, x: Tensor) -> Tensor:
        """``sign(x - b)`` (``sign(0) = +1``), or ``x`` if not binarized."""
        if not self.binarize_act:
            return x
        if self.threshold is not None:
            x = x - self.threshold
        return hard_sign(x)

    def uses_kernel(self, x: Tensor) -> bool:
        """Whether :meth:`forward` on ``x`` runs the packed kernel."""
        if self.backend == 'reference' or not self.binarize_act:
            return False
        usable = (x.device.type == 'cpu' and x.dtype == torch.float32
                  and kernel_available())
        if self.backend == 'kernel' and not usable:
            raise RuntimeError(
                "backend='kernel' needs the built mmbnn XNOR kernel, a CPU "
                f'float32 input (got {x.device}, {x.dtype}) and binarized '
                'activations')
        return usable

    def set_activation(self, slope: Tensor,
                       shift_in: Optional[Tensor] = None,
                       shift_out: Optional[Tensor] = None) -> None:
        """Fuse ``PReLU(y - shift_in, slope) + shift_out`` (RPReLU; PReLU
        without the shifts) into the output, after the residual.

        Args:
            slope (Tensor): Per-output-channel negative slope, ``O``
                elements (or 1, broadcast).
            shift_in, shift_out (Tensor, optional): ``O`` elements each.
        """
        def channels(t: Optional[Tensor]) -> Optional[Tensor]:
            if t is None:
                return None
            t = t.detach().reshape(-1).to(torch.float32)
            return t.expand(self.out_channels).clone() if t.numel() == 1 \
                else t.clone()
        for name, value in (('act_slope', slope), ('act_shift_in', shift_in),
                            ('act_shift_out', shift_out)):
            value = channels(value)
            if value is not None and value.numel() != self.out_channels:
                raise ValueError(f'{name} has {value.numel()} elements, '
                                 f'expected {self.out_channels}')
            setattr(self, name, value)

    def epilogue(self, y: Tensor, residual: Optional[Tensor]) -> Tensor:
        """The float form of the fused epilogue: ``+ residual`` (repeated
        along channels when it has fewer), then the activation set by
        :meth:`set_activation` (torch's order)."""
        if residual is not None:
            if residual.shape[1] != y.shape[1]:  # repeated along channels
                residual = residual.repeat(1, y.shape[1] // residual.shape[1],
                                           1, 1)
            y = y + residual
        if self.act_slope is not None:
            if self.act_shift_in is not None:
                y = y - self.act_shift_in.view(1, -1, 1, 1).to(y.dtype)
            y = F.prelu(y, self.act_slope.to(y.dtype))
            if self.act_shift_out is not None:
                y = y + self.act_shift_out.view(1, -1, 1, 1).to(y.dtype)
        return y

    def forward(self, x: Tensor, residual: Optional[Tensor] = None) -> Tensor:
        """``conv(sign(x - b), alpha * sign(W)) + bias``, then the epilogue
        (``residual`` added, the fused activation) when one is set."""
        if self.uses_kernel(x):
            xnor = _xnor()
            if 'kernel' not in self._cache:
                self._cache['kernel'] = xnor.pack_weight(self.sign_weight())
            return xnor.binary_conv2d(
                x.contiguous(), self._cache['kernel'],
                in_channels=self.in_channels,
                out_channels=self.out_channels,
                kernel_size=self.kernel_size, stride=self.stride,
                padding=self.padding, dilation=self.dilation,
                groups=self.groups, threshold=self.threshold,
                scale=self.scale, bias=self.bias,
                residual=None if residual is None else residual.float(),
                act_shift_in=self.act_shift_in, act_slope=self.act_slope,
                act_shift_out=self.act_shift_out)
        weight = self.reference_weight().to(x.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        y = F.conv2d(self.binary_input(x), weight, bias, self.stride,
                     self.padding, self.dilation, self.groups)
        return self.epilogue(y, residual)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, dilation={self.dilation}, '
                f'groups={self.groups}, bias={self.bias is not None}, '
                f'packed 1-bit weight, '
                f'scale={"per-channel" if self.scale is not None else None}'
                f', act={"sign" if self.binarize_act else "real"}'
                f'{"-threshold" if self.threshold is not None else ""}, '
                + ('fused act, ' if self.act_slope is not None else '')
                + f'backend={self.backend}')
