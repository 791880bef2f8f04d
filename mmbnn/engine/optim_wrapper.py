# Copyright (c) mmbnn contributors. All rights reserved.
"""``SeparateClipOptimWrapper``: gradient clipping that training-only
parameters cannot skew.

MMEngine's ``OptimWrapper`` clips the global norm of every gradient. A
training rule that adds parameters of its own (SURGE's auxiliary weights
``W_a``, whose gradients are far larger than the latent weights') then
raises that norm, and every shared parameter, heads included, takes a
smaller step than under the plain STE: a comparison between rules measures
the clipping too. This wrapper clips the shared parameters by their own
norm (logged as ``train/grad_norm``, as MMEngine does) and the
training-only ones, marked by :func:`mark_training_only`, by theirs
(``train/grad_norm_training_only``), with the same ``clip_grad``
settings. Without training-only parameters it is ``OptimWrapper``.
``SeparateClipAmpOptimWrapper`` does the same under mixed precision
(``tools/train.py --amp`` picks it for a ``SeparateClipOptimWrapper``
config). With ``clip_grad=dict(type='value')`` clipping is per element and
the split changes nothing (and nothing is logged, as in MMEngine).
"""
from typing import List

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

_FLAG = '_mmbnn_training_only'


def mark_training_only(param: nn.Parameter) -> nn.Parameter:
    """Mark a parameter that exists only for training (dropped at export),
    so that :class:`SeparateClipOptimWrapper` clips it apart."""
    setattr(param, _FLAG, True)
    return param


def is_training_only(param: torch.Tensor) -> bool:
    """Whether :func:`mark_training_only` marked ``param``."""
    return bool(getattr(param, _FLAG, False))


class SeparateClipMixin:
    """``_clip_grad`` over the shared and the training-only parameters as
    two separate sets (see the module docstring)."""

    def _clip_grad(self) -> None:
        params: List[torch.Tensor] = []
        for group in self.optimizer.param_groups:
            params.extend(group['params'])
        params = [p for p in params if p.requires_grad and p.grad is not None]
        shared = [p for p in params if not is_training_only(p)]
        extra = [p for p in params if is_training_only(p)]
        for subset, name in ((shared, self.grad_name),
                             (extra, f'{self.grad_name}_training_only')):
            if not subset:
                continue
            norm = self.clip_func(subset, **self.clip_grad_kwargs)
            if norm is not None:  # clip_grad_value_ returns None
                self.message_hub.update_scalar(f'train/{name}', float(norm))


@OPTIM_WRAPPERS.register_module()
class SeparateClipOptimWrapper(SeparateClipMixin, OptimWrapper):
    """``OptimWrapper`` with :class:`SeparateClipMixin`'s clipping. Config:
    ``optim_wrapper=dict(type='SeparateClipOptimWrapper',
    clip_grad=dict(max_norm=35, norm_type=2), optimizer=...)``."""


@OPTIM_WRAPPERS.register_module()
class SeparateClipAmpOptimWrapper(SeparateClipMixin, AmpOptimWrapper):
    """``AmpOptimWrapper`` with :class:`SeparateClipMixin`'s clipping (on
    the unscaled gradients, as ``AmpOptimWrapper`` clips)."""


#: what ``--amp`` turns each wrapper type into
AMP_WRAPPERS = {
    'OptimWrapper': 'AmpOptimWrapper',
    'SeparateClipOptimWrapper': 'SeparateClipAmpOptimWrapper',
}
