# Copyright (c) mmbnn contributors. All rights reserved.
"""Packed XNOR-popcount binary convolution for x86 CPUs.

The C++ extension ``mmbnn.ops._xnor_ext`` (built by ``pip install
--no-build-isolation -e .``) runs a binarized ``BinaryConv`` at inference:
activations are binarized and packed 64 channels per word, weights are
packed once by :func:`pack_weight`, and each output is an exact integer dot
product ``bits - 2 * popcount(x ^ w)`` to which the per-channel scale and
bias are applied in float32.

Zero padding of a +-1 tensor is a third value (0). The kernel pads with +1
bits and removes the padded taps exactly with a per-position correction
(their weight sums), so border outputs equal the float conv on the
zero-padded binarized input.

SIMD path: the widest one the CPU supports (``'avx512_vpopcntdq'``,
``'avx2'`` or ``'scalar'``), or the one named by the environment variable
``MMBNN_XNOR_SIMD`` (``auto``, ``avx512``/``avx512_vpopcntdq``, ``avx2``,
``scalar``; read at every call). Threads: ``torch.get_num_threads()``. No
autograd.

The extension's float kernels for the real-valued ops (max pooling,
RoIAlign, RPReLU) belong to :mod:`mmbnn.ops.float_kernels`;
``xnor.max_pool2d``, ``xnor.roi_align`` and ``xnor.rprelu`` name the same
functions.
"""
from typing import Optional, Tuple

from torch import Tensor

from . import _ext
from ..utils import IntPair as _IntPair
from ..utils import to_pair
from ._ext import import_error, is_available
from ._ext import require_extension as _require_extension
from .float_kernels import max_pool2d, roi_align, rprelu  # noqa: F401

SIMD_ENV = 'MMBNN_XNOR_SIMD'
SIMD_PATHS = ('scalar', 'avx2', 'avx512_vpopcntdq')  # index = C++ path id
# values MMBNN_XNOR_SIMD accepts (case-insensitive); 'avx512' is an alias
SIMD_CHOICES = ('auto', ) + SIMD_PATHS + ('avx512', )


def supported_simd_paths() -> Tuple[str, ...]:
    """The SIMD paths this CPU can run, narrowest first."""
    ext = _require_extension()
    return tuple(name for i, name in enumerate(SIMD_PATHS)
                 if ext.simd_supported(i))


def simd_path() -> str:
    """The SIMD path :func:`binary_conv2d` runs now: ``'avx512_vpopcntdq'``,
    ``'avx2'`` or ``'scalar'``.

    Raises:
        ValueError: If ``MMBNN_XNOR_SIMD`` names no path (see
            :data:`SIMD_CHOICES`).
        RuntimeError: If it names one this CPU cannot run.
    """
    return SIMD_PATHS[_require_extension().resolve_simd()]


def pack_weight(sign_weight: Tensor) -> Tensor:
    """Pack a +-1 weight into the kernel's layout.

    Args:
        sign_weight (Tensor): Float ``(O, C/groups, kh, kw)`` of exactly
            +-1 values (``hard_sign`` of the latent weight).

    Returns:
        Tensor: Contiguous int64 ``(ceil(O/8), kh*kw*ceil(C/groups/64) +
        kh*kw, 8)``: the weight bits (set bit = -1) of 8 output channels per
        block, then each tap's weight sum (used by the padding correction).
        It does not depend on the SIMD path or on ``groups``.
    """
    return _require_extension().pack_weight(sign_weight)


def _geometry(kernel_size: _IntPair, stride: _IntPair, padding: _IntPair,
              dilation: _IntPair) -> tuple:
    """``(kh, kw, sh, sw, ph, pw, dh, dw)``; the common cases (ints, or the
    int pairs ``nn.Conv2d`` stores) take a few Python operations."""
    try:
        kh, kw = ((kernel_size, kernel_size)
                  if type(kernel_size) is int else kernel_size)
        sh, sw = (stride, stride) if type(stride) is int else stride
        ph, pw = (padding, padding) if type(padding) is int else padding
        dh, dw = (dilation, dilation) if type(dilation) is int else dilation
        geometry = (kh, kw, sh, sw, ph, pw, dh, dw)
    except (TypeError, ValueError):
        geometry = None
    if geometry is None or not all(type(v) is int for v in geometry):
        # the slow path, for a clear error (or ints of another type)
        return (*to_pair(kernel_size, 'kernel_size'),
                *to_pair(stride, 'stride'), *to_pair(padding, 'padding'),
                *to_pair(dilation, 'dilation'))
    return geometry


def binary_conv2d(x: Tensor,
                  packed_weight: Tensor,
                  *,
                  in_channels: int,
                  out_channels: int,
                  kernel_size: _IntPair,
                  stride: _IntPair = 1,
                  padding: _IntPair = 0,
                  dilation: _IntPair = 1,
                  groups: int = 1,
                  threshold: Optional[Tensor] = None,
                  scale: Optional[Tensor] = None,
                  bias: Optional[Tensor] = None,
                  residual: Optional[Tensor] = None,
                  act_shift_in: Optional[Tensor] = None,
                  act_slope: Optional[Tensor] = None,
                  act_shift_out: Optional[Tensor] = None) -> Tensor:
    """Binary conv of ``x`` with a packed +-1 weight, as ``BinaryConv``
    computes it.

    ``xb = +1 where (x - threshold) >= 0 else -1``; ``d = conv2d(xb,
    W_sign)`` with zero padding (padded taps add 0), computed as exact
    integers; ``y = d * scale[o] + bias[o]`` in float32 (two roundings, as
    torch's ``d * scale + bias``). The optional epilogue runs on each
    output row while it is in cache: ``y = y + residual``, then, with
    ``act_slope``, ``y = PReLU(y - act_shift_in, act_slope) + act_shift_out``
    (RPReLU; PReLU without the shifts), one rounding per operation as
    torch's ops give.

    Args:
        x (Tensor): Float32 ``(N, C, H, W)`` CPU input.
        packed_weight (Tensor): From :func:`pack_weight`.
        in_channels, out_channels, kernel_size, stride, padding, dilation,
            groups: As in ``nn.Conv2d`` (numeric padding only).
        threshold (Tensor, optional): Per-input-channel threshold with ``C``
            elements, e.g. ``(1, C, 1, 1)``. Defaults to None (0).
        scale (Tensor, optional): Per-output-channel scale with ``O``
            elements, e.g. ``(O,)`` or ``(O, 1, 1, 1)``. Defaults to None (1).
        bias (Tensor, optional): ``(O,)`` bias. Defaults to None.
        residual (Tensor, optional): Float32 tensor of the output's shape
            added after the bias, or with ``R`` channels, ``R`` dividing
            ``O``: then output channel ``o`` adds residual channel
            ``o % R`` (``residual.repeat(1, O // R, 1, 1)`` without the
            copy). Defaults to None.
        act_shift_in, act_slope, act_shift_out (Tensor, optional): ``O``
            elements each: the RPReLU after the residual. The shifts need
            ``act_slope``. Defaults to None (no activation).

    Returns:
        Tensor: Float32 ``(N, O, H_out, W_out)``, without autograd history.
    """
    ext = _ext.extension
    if ext is None:
        ext = _require_extension()
    # the SIMD path (MMBNN_XNOR_SIMD) is resolved in C++: this wrapper stays
    # a few Python operations, which matters next to a ~0.1 ms kernel
    return ext.binary_conv2d(x, packed_weight, in_channels, out_channels,
                             *_geometry(kernel_size, stride, padding,
                                        dilation), groups, threshold, scale,
                             bias, residual, act_shift_in, act_slope,
                             act_shift_out)


__all__ = [
    'SIMD_CHOICES', 'SIMD_ENV', 'SIMD_PATHS', 'binary_conv2d', 'import_error',
    'is_available', 'max_pool2d', 'pack_weight', 'roi_align', 'rprelu',
    'simd_path', 'supported_simd_paths'
]
