# Copyright (c) mmbnn contributors. All rights reserved.
"""Drop-in modules for real-valued ops that have a faster equal-valued CPU
kernel in :mod:`mmbnn.ops.float_kernels`: ``nn.MaxPool2d`` and mmcv's
average ``RoIAlign``. They fuse nothing and change no value; each falls
back to the op it wraps wherever the kernel does not apply (GPU, float64,
gradients, options the kernel lacks)."""
import functools

import torch
from torch import Tensor, nn

from ..utils import set_submodule
from .packed_conv import kernel_available


@functools.lru_cache(maxsize=None)
def float_kernels():
    """:mod:`mmbnn.ops.float_kernels`, imported once (lazily, as the packed
    conv imports its kernel)."""
    from ..ops import float_kernels as module
    return module


def _runs_kernel(x: Tensor) -> bool:
    return (x.device.type == 'cpu' and x.dtype == torch.float32
            and kernel_available()
            and not (torch.is_grad_enabled() and x.requires_grad))


class CPUMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` through :func:`mmbnn.ops.float_kernels.max_pool2d`
    on CPU float32 NCHW inputs (same values), torch's elsewhere."""

    @classmethod
    def from_module(cls, pool: nn.MaxPool2d) -> 'CPUMaxPool2d':
        """The same pooling as ``pool``."""
        return cls(pool.kernel_size, pool.stride, pool.padding,
                   pool.dilation, pool.return_indices, pool.ceil_mode)

    def forward(self, x: Tensor) -> Tensor:
        if (x.dim() == 4 and not self.return_indices
                and self.dilation in (1, (1, 1)) and _runs_kernel(x)):
            return float_kernels().max_pool2d(x, self.kernel_size,
                                              self.stride, self.padding,
                                              self.ceil_mode)
        return super().forward(x)


class CPURoIAlign(nn.Module):
    """mmcv's ``RoIAlign`` (``pool_mode='avg'``) through
    :func:`mmbnn.ops.float_kernels.roi_align` on CPU float32 inputs: the
    same values (tested), on all of torch's threads with channels innermost;
    mmcv's op elsewhere (GPU, gradients, max pooling)."""

    def __init__(self, roi_align: nn.Module) -> None:
        super().__init__()
        self.roi_align = roi_align

    @property
    def output_size(self) -> tuple:
        """The wrapped op's ``output_size`` (mmdet's RoI extractors read
        it)."""
        return self.roi_align.output_size

    @staticmethod
    def replaces(module: nn.Module) -> bool:
        """Whether ``module`` is an mmcv ``RoIAlign`` this class can run."""
        try:
            from mmcv.ops import RoIAlign
        except ImportError:
            return False
        return (isinstance(module, RoIAlign) and module.pool_mode == 'avg'
                and not getattr(module, 'use_torchvision', False))

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        op = self.roi_align
        if rois.dtype == torch.float32 and _runs_kernel(features):
            return float_kernels().roi_align(features, rois, op.output_size,
                                             op.spatial_scale,
                                             op.sampling_ratio, op.aligned)
        return op(features, rois)


def replace_real_ops(model: nn.Module) -> nn.Module:
    """Swap ``nn.MaxPool2d`` for :class:`CPUMaxPool2d` and mmcv's average
    ``RoIAlign`` for :class:`CPURoIAlign`, in place. Part of
    :func:`~mmbnn.deploy.fusion.fuse_deploy_model`; on its own it applies to
    any model (a full-precision one too), so a benchmark can tell the
    speed-up of these ops from that of binarization.

    Returns:
        nn.Module: ``model`` itself.
    """
    for name, module in list(model.named_modules()):
        if type(module) is nn.MaxPool2d:
            set_submodule(model, name, CPUMaxPool2d.from_module(module))
        elif CPURoIAlign.replaces(module):
            set_submodule(model, name, CPURoIAlign(module))
    return model


__all__ = ['CPUMaxPool2d', 'CPURoIAlign', 'float_kernels', 'replace_real_ops']
