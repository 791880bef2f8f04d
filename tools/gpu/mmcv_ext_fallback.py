# Copyright (c) mmbnn contributors. All rights reserved.
"""A stand-in for mmcv's compiled ``mmcv._ext`` where mmcv's Python package
is installed without its ops (``MMCV_WITH_OPS=0``, or no CUDA build for the
installed torch): the two ops that Faster R-CNN and SSD training and
testing call, ``nms`` and ``roi_align`` (average pooling), run through
``torchvision.ops``; every other op raises a clear error when called.

Only for ``tools/gpu_check.sh --mmcv-ops-fallback``: it installs this file
as ``mmcv/_ext.py`` of an mmcv that has no ``_ext``, so a GPU check can run
without the ~20-minute mmcv CUDA build. Real trainings should use mmcv
built with its ops.
"""
from typing import Any

import torch
import torchvision

FALLBACK = True  # lets a report say which ops ran


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float,
        offset: int = 0) -> torch.Tensor:
    """Indices kept by NMS, by decreasing score (mmcv's ``nms`` kernel)."""
    if offset not in (0, 1):
        raise ValueError(f'offset must be 0 or 1, got offset={offset}')
    if offset:  # mmcv's legacy +1 box widths
        boxes = torch.cat([boxes[:, :2], boxes[:, 2:] + 1], dim=1)
    return torchvision.ops.nms(boxes.float(), scores.float(),
                               float(iou_threshold))


def _check_avg(pool_mode: int) -> None:
    if pool_mode != 1:
        raise NotImplementedError(
            "the mmcv ops fallback has RoIAlign pool_mode='avg' only; build "
            "mmcv with its ops for pool_mode='max'")


def _roi_align(features: torch.Tensor, rois: torch.Tensor,
               aligned_height: int, aligned_width: int,
               spatial_scale: float, sampling_ratio: int,
               aligned: bool) -> torch.Tensor:
    dtype = features.dtype
    if dtype == torch.bfloat16:  # torchvision's kernels have no bfloat16
        features = features.float()
    return torchvision.ops.roi_align(
        features, rois.to(features.dtype), (aligned_height, aligned_width),
        spatial_scale=spatial_scale, sampling_ratio=sampling_ratio,
        aligned=aligned).to(dtype)


def roi_align_forward(input: torch.Tensor, rois: torch.Tensor,
                      output: torch.Tensor, argmax_y: torch.Tensor,
                      argmax_x: torch.Tensor, aligned_height: int,
                      aligned_width: int, spatial_scale: float,
                      sampling_ratio: int, pool_mode: int,
                      aligned: bool) -> None:
    """mmcv's ``roi_align_forward``: writes the pooled features into
    ``output``."""
    _check_avg(pool_mode)
    output.copy_(
        _roi_align(input, rois, aligned_height, aligned_width, spatial_scale,
                   sampling_ratio, aligned))


def roi_align_backward(grad_output: torch.Tensor, rois: torch.Tensor,
                       argmax_y: torch.Tensor, argmax_x: torch.Tensor,
                       grad_input: torch.Tensor, aligned_height: int,
                       aligned_width: int, spatial_scale: float,
                       sampling_ratio: int, pool_mode: int,
                       aligned: bool) -> None:
    """mmcv's ``roi_align_backward``. RoIAlign is linear in its input, so
    the input gradient is the vector-Jacobian product taken at any input
    (zeros here), which mmcv's backward does not keep."""
    _check_avg(pool_mode)
    with torch.enable_grad():
        probe = torch.zeros_like(grad_input, requires_grad=True)
        out = _roi_align(probe, rois, aligned_height, aligned_width,
                         spatial_scale, sampling_ratio, aligned)
        grad, = torch.autograd.grad(out, probe, grad_output)
    grad_input.copy_(grad)


def __getattr__(name: str) -> Any:
    if name.startswith('__'):
        raise AttributeError(name)

    def missing(*args, **kwargs):
        raise NotImplementedError(
            f'mmcv op {name!r} is not in the mmcv ops fallback (nms and '
            'roi_align only); build mmcv with its ops to use it')

    return missing
