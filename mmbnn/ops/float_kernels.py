# Copyright (c) mmbnn contributors. All rights reserved.
"""Float32 CPU kernels for the real-valued ops around the binary convs.

Max pooling, mmcv's average RoIAlign and RPReLU with the values of torch's
and mmcv's own ops, computed on all of torch's threads: torch 2.x's NCHW
CPU max-pool and mmcv's single-threaded CPU RoIAlign are several times
slower, and RPReLU in torch is three passes over the tensor. None of them
is binary; they live in the same compiled extension as the XNOR kernel
(:mod:`mmbnn.ops._ext`). No autograd.
"""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

from ..utils import IntPair, to_pair
from ._ext import require_extension


def max_pool2d(x: Tensor,
               kernel_size: IntPair,
               stride: Optional[IntPair] = None,
               padding: IntPair = 0,
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
    ext = require_extension()
    kh, kw = to_pair(kernel_size, 'kernel_size')
    sh, sw = (kh, kw) if stride is None else to_pair(stride, 'stride')
    ph, pw = to_pair(padding, 'padding')
    out, saw_nan = ext.max_pool2d(x, kh, kw, sh, sw, ph, pw, bool(ceil_mode))
    if saw_nan:
        return F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw),
                            ceil_mode=bool(ceil_mode))
    return out


def roi_align(features: Tensor,
              rois: Tensor,
              output_size: IntPair,
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
    ph, pw = to_pair(output_size, 'output_size')
    return require_extension().roi_align(features, rois, ph, pw,
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
    return require_extension().rprelu(x, shift_in, slope, shift_out)


__all__ = ['max_pool2d', 'roi_align', 'rprelu']
