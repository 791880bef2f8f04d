# Copyright (c) mmbnn contributors. All rights reserved.
"""``NonFiniteCheckHook``: stop a training run whose binary convs receive
NaN or Inf activations.

``sign`` maps NaN to a valid +-1, so once a network diverges its binary
layers keep producing well-formed outputs and the run trains on garbage
without any error. While this hook runs, every binarizing
:class:`~mmbnn.ops.BinaryConv` ORs "my training input held a non-finite
value" into a bool on the device (tensor ops only, no host synchronisation
per layer); after an iteration the hook stacks the flags, copies them to
the host once and raises an error naming the layers and the iteration.

The binary runtime configs (``configs/_base_/default_runtime.py``,
``configs/_base_/cls_runtime.py``) register it as
``default_hooks.nonfinite_check``; ``default_hooks =
dict(nonfinite_check=None)`` switches it off, and the layers then skip the
check too.
"""
from typing import Dict, List

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from torch import nn

from ..ops.binary_conv import BinaryConv
from ..utils import unwrap_model
from .scheduled_hook import check_number

#: layers named in the error message (the count is given in full)
MAX_NAMED = 5


def binary_convs(model: nn.Module) -> Dict[str, BinaryConv]:
    """``{name: conv}`` of the convs that binarize an operand, in module
    order."""
    model = unwrap_model(model)
    return {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, BinaryConv) and m.is_binary
    }


def nonfinite_layers(convs: Dict[str, BinaryConv]) -> List[str]:
    """Names of the layers whose flag is set, synchronised across ranks
    (one device-to-host copy)."""
    if not convs:
        return []
    flags = torch.stack([c.nonfinite for c in convs.values()]).float()
    if get_world_size() > 1:
        all_reduce(flags, op='max')
    return [
        name for name, bad in zip(convs, flags.cpu().tolist()) if bad
    ]


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Raise once NaN or Inf activations reach a binary conv in training.

    - ``before_train``: turns the check on in every binarizing
      ``BinaryConv`` (``check_nonfinite``) and clears the flags.
    - ``after_train_iter``, every ``interval`` iterations and after the
      last: reads the flags (one synchronisation) and raises a
      ``FloatingPointError`` naming the first layers (module order) and
      the iteration.
    - ``after_train``: turns the check off again.

    A model without binary convs makes the hook a no-op.

    Args:
        interval (int): Check every ``interval`` iterations (the flags
            accumulate in between, so nothing is missed, only reported
            later). Defaults to 1.
    """

    priority = 'ABOVE_NORMAL'  # before the loggers and the checkpoint

    def __init__(self, interval: int = 1) -> None:
        check_number('NonFiniteCheckHook', 'interval', interval, minimum=1,
                     integer=True)
        self.interval = interval
        self.convs: Dict[str, BinaryConv] = {}

    def before_train(self, runner) -> None:
        self.convs = binary_convs(runner.model)
        for conv in self.convs.values():
            conv.check_nonfinite = True
            conv.nonfinite.fill_(False)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not (self.every_n_train_iters(runner, self.interval)
                or self.is_last_train_iter(runner)):
            return
        bad = nonfinite_layers(self.convs)
        if not bad:
            return
        first = ', '.join(bad[:MAX_NAMED])
        more = f' and {len(bad) - MAX_NAMED} more' \
            if len(bad) > MAX_NAMED else ''
        since = '' if self.interval == 1 else \
            f' (checked every {self.interval} iterations)'
        raise FloatingPointError(
            f'NaN or Inf activations reached {len(bad)} binary conv '
            f'layer(s) by iteration {runner.iter + 1}{since}: {first}{more}'
            ' (module order). The run diverged: lower the learning rate or '
            'clip the gradients (optim_wrapper.clip_grad). To train on '
            'anyway, set default_hooks=dict(nonfinite_check=None).')

    def after_train(self, runner) -> None:
        for conv in self.convs.values():
            conv.check_nonfinite = False
