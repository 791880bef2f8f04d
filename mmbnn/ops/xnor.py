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
"""
import operator
from typing import Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

try:
    from . import _xnor_ext
    _IMPORT_ERROR: Optional[ImportError] = None
except ImportError as error:  # built without the extension
    _xnor_ext = None
    _IMPORT_ERROR = error

SIMD_ENV = 'MMBNN_XNOR_SIMD'
SIMD_PATHS = ('scalar', 'avx2', 'avx512_vpopcntdq')  # index = C++ path id
# values MMBNN_XNOR_SIMD accepts (case-insensitive); 'avx512' is an alias
SIMD_CHOICES = ('auto', ) + SIMD_PATHS + ('avx512', )

_IntPair = Union[int, Sequence[int]]


def is_available() -> bool:
    """Whether the compiled kernel could be imported."""
    return _xnor_ext is not None


def import_error() -> Optional[ImportError]:
    """The error that made :func:`is_available` False, if any."""
    return _IMPORT_ERROR


def _require_extension():
    if _xnor_ext is None:
        raise RuntimeError(
            'the XNOR kernel mmbnn.ops._xnor_ext is not built (reinstall with '
            '`pip install --no-build-isolation --no-deps -e .`): '
            f'{_IMPORT_ERROR}')
    return _xnor_ext


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


def _pair(name: str, value: _IntPair) -> Tuple[int, int]:
    error = ValueError(f'{name} must be an int or a pair of ints, got '
                       f'{value!r}')
    try:
        if not isinstance(value, (tuple, list)):
            return (operator.index(value), ) * 2
        if len(value) == 2:
            return tuple(operator.index(v) for v in value)
    except TypeError:
        raise error from None
    raise error


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
        return (*_pair('kernel_size', kernel_size), *_pair('stride', stride),
                *_pair('padding', padding), *_pair('dilation', dilation))
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
    ext = _xnor_ext if _xnor_ext is not None else _require_extension()
    # the SIMD path (MMBNN_XNOR_SIMD) is resolved in C++: this wrapper stays
    # a few Python operations, which matters next to a ~0.1 ms kernel
    return ext.binary_conv2d(x, packed_weight, in_channels, out_channels,
                             *_geometry(kernel_size, stride, padding,
                                        dilation), groups, threshold, scale,
                             bias, residual, act_shift_in, act_slope,
                             act_shift_out)


def max_pool2d(x: Tensor,
               kernel_size: _IntPair,
               stride: Optional[_IntPair] = None,
               padding: _IntPair = 0,
               ceil_mode: bool = False) -> Tensor:
    """``F.max_pool2d(x, kernel_size, stride, padding, ceil_mode=ceil_mode)``
    of a float32 CPU NCHW tensor, the same values, computed plane by plane
    on torch's threads (torch 2.x's NCHW CPU max-pool is several times
    slower: it dominated the deploy backbone's time). Dilation 1 only. An
    input holding NaN goes to ``F.max_pool2d`` (NaN propagates as there).

    Args:
        x (Tensor): Float32 ``(N, C, H, W)`` CPU input.
        kernel_size, stride, padding: As in ``F.max_pool2d``; ``stride``
            defaults to ``kernel_size``.
        ceil_mode (bool): As in ``F.max_pool2d``. Defaults to False.

    Returns:
        Tensor: The pooled tensor, without autograd history.
    """
    ext = _require_extension()
    kh, kw = _pair('kernel_size', kernel_size)
    sh, sw = (kh, kw) if stride is None else _pair('stride', stride)
    ph, pw = _pair('padding', padding)
    out, saw_nan = ext.max_pool2d(x, kh, kw, sh, sw, ph, pw, bool(ceil_mode))
    if saw_nan:
        return F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw),
                            ceil_mode=bool(ceil_mode))
    return out


def roi_align(features: Tensor,
              rois: Tensor,
              output_size: _IntPair,
              spatial_scale: float,
              sampling_ratio: int = 0,
              aligned: bool = True) -> Tensor:
    """Average RoIAlign with the values of mmcv's CPU ``roi_align``
    (``pool_mode='avg'``), its RoIs split over torch's threads (mmcv's CPU
    kernel runs on one thread and also tracks the max-pool arg-max).

    Args:
        features (Tensor): Float32 ``(N, C, H, W)`` CPU feature map.
        rois (Tensor): Float32 ``(K, 5)``: batch index, x1, y1, x2, y2.
        output_size (int | tuple[int, int]): Pooled height and width.
        spatial_scale (float): Feature-map size / image size.
        sampling_ratio (int): Samples per bin side; 0 adapts it to the RoI
            size. Defaults to 0.
        aligned (bool): Half-pixel offset. Defaults to True.

    Returns:
        Tensor: ``(K, C, ph, pw)``, without autograd history.
    """
    ph, pw = _pair('output_size', output_size)
    return _require_extension().roi_align(features, rois, ph, pw,
                                          float(spatial_scale),
                                          int(sampling_ratio), bool(aligned))


def rprelu(x: Tensor,
           slope: Tensor,
           shift_in: Optional[Tensor] = None,
           shift_out: Optional[Tensor] = None) -> Tensor:
    """``F.prelu(x - shift_in, slope) + shift_out`` (RPReLU; PReLU without
    the shifts) of a float32 NCHW CPU tensor in one pass, the same values
    as torch's three.

    Args:
        x (Tensor): Float32 ``(N, C, H, W)``.
        slope (Tensor): ``C`` negative slopes.
        shift_in, shift_out (Tensor, optional): ``C`` shifts each.

    Returns:
        Tensor: Float32 tensor shaped as ``x``, without autograd history.
    """
    return _require_extension().rprelu(x, shift_in, slope, shift_out)
