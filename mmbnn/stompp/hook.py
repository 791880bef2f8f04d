# Copyright (c) mmbnn contributors. All rights reserved.
"""StoMPPHook: drives the frozen fractions of every StoMPP layer."""
from typing import Dict, List, Optional, Sequence

import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_rank
from torch import nn

from ..engine.scheduled_hook import ScheduledHook, check_number
from ..utils import check_choice
from .masking import StoMPPMasking
from .schedule import (ORDERS, SHAPES, SPLITS, frozen_fraction, layer_windows,
                       split_window)


def execution_order(model: nn.Module,
                    input_shape: Sequence[int] = (1, 3, 64, 64)) -> List[str]:
    """Names of the convs holding a StoMPP rule, in the order a real forward
    runs them (``extract_feat`` for detectors: backbone then neck).

    The forward runs once on zeros in eval mode without autograd, and the
    model's train/eval state is restored.
    """
    owners = {
        name: module
        for name, module in model.named_modules()
        if isinstance(getattr(module, 'progressive', None), StoMPPMasking)
    }
    order: List[str] = []
    handles = [
        m.register_forward_pre_hook(
            lambda mod, args, name=name: order.append(name)
            if name not in order else None) for name, m in owners.items()
    ]
    was_training = model.training
    device = next(model.parameters()).device
    try:
        model.eval()
        with torch.no_grad():
            dummy = torch.zeros(*input_shape, device=device)
            forward = getattr(model, 'extract_feat', model)
            forward(dummy)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    missing = [n for n in owners if n not in order]
    if missing:
        raise RuntimeError(
            f'StoMPP layers not reached by the forward pass: {missing}')
    return order


def warmup_end(runner) -> int:
    """The iteration at which the runner's learning-rate warm-up ends: the
    largest ``end`` of its ``LinearLR`` schedulers that start below the
    base rate (0 without one)."""
    from mmengine.optim import LinearLR
    schedulers = getattr(runner, 'param_schedulers', None) or []
    if isinstance(schedulers, dict):  # one list per optimizer
        schedulers = [s for group in schedulers.values() for s in group]
    ends = [
        s.end * (len(runner.train_dataloader) if s.by_epoch else 1)
        for s in schedulers
        if isinstance(s, LinearLR) and s.start_factor < 1
    ]
    return int(max(ends, default=0))


@HOOKS.register_module()
class StoMPPHook(ScheduledHook):
    """ParamScheduler-style driver of StoMPP's progressive binarization.

    The arguments mirror MMEngine parameter schedulers (``begin``, ``end``,
    ``by_epoch``; epochs are converted to iterations with the dataloader
    length). Layers are ordered by a real forward pass (input to output;
    in mmdet's FPN all lateral convs run before the top-down path's output
    convs, finest level first). Every iteration, ``before_train_iter``
    computes each layer's weight and activation frozen fractions from
    ``runner.iter`` alone (so resume needs nothing beyond the model's
    buffers), writes them into the layers, and soft-refreshes the weight
    scores with counter-based randomness.

    Logged every ``interval`` iterations: ``train/stompp_frozen_mean`` (the
    mean realised frozen fraction of the weights) and per layer
    ``stompp/<layer>/{p_weight,p_act,frozen_weight}`` (message hub and
    visualizer backends).

    Args:
        begin (float): Start of the schedule, >= 0. Defaults to 0.
        end (float, optional): End (everything binary from then on),
            greater than ``begin``; None = end of training.
        by_epoch (bool): ``begin``/``end``/``layer_window`` in epochs.
            Defaults to False.
        shape (str): ``'linear'``, ``'quadratic'``, ``'cubic'``,
            ``'cosine'`` or ``'flipped_quadratic'``. Defaults to
            ``'cubic'``.
        order (str): ``'forward'`` (input to output), ``'reverse'`` or
            ``'global'``. Defaults to ``'forward'``.
        split (str): ``'joint'``, ``'weights_first'`` or ``'acts_first'``.
            Defaults to ``'joint'``.
        layer_window (float, optional): Length of each layer's window,
            > 0; default ``(end - begin) / num_layers``.
        interval (int): Logging interval. Defaults to 50.
        input_shape (tuple): Dummy input for the ordering forward.
            Defaults to (1, 3, 64, 64).
        after_warmup (bool): Start the progression no earlier than the end
            of the learning-rate warm-up (the last ``end`` of the runner's
            ``LinearLR`` schedulers with ``start_factor < 1``), so that no
            layer freezes while its learning rate is still a fraction of
            the run's. Defaults to True.
    """

    def __init__(self,
                 begin: float = 0,
                 end: Optional[float] = None,
                 by_epoch: bool = False,
                 shape: str = 'cubic',
                 order: str = 'forward',
                 split: str = 'joint',
                 layer_window: Optional[float] = None,
                 interval: int = 50,
                 input_shape: Sequence[int] = (1, 3, 64, 64),
                 after_warmup: bool = True) -> None:
        self.shape = check_choice('shape', shape, SHAPES)
        self.order = check_choice('order', order, ORDERS)
        self.split = check_choice('split', split, SPLITS)
        super().__init__(begin, end, by_epoch, interval)
        if layer_window is not None:
            check_number('StoMPPHook', 'layer_window', layer_window)
            if layer_window <= 0:
                raise ValueError('StoMPPHook: layer_window must be > 0 or '
                                 f'None, got layer_window={layer_window}')
        self.layer_window = layer_window
        self.input_shape = tuple(input_shape)
        self.after_warmup = after_warmup
        self.layers: Dict[str, StoMPPMasking] = {}
        self.windows: list = []

    def before_train(self, runner) -> None:
        model = self.unwrap(runner.model)
        names = execution_order(model, self.input_shape)
        if not names:
            raise RuntimeError(
                'StoMPPHook found no StoMPP layer in the model: build the '
                "binary convs with conv_cfg=dict(type='BinaryConv', "
                "progressive=dict(type='StoMPP')) or remove the hook")
        self.layers = {
            n: model.get_submodule(n).progressive
            for n in names
        }
        begin, end = self.set_window(runner)
        if self.after_warmup:
            begin = max(begin, warmup_end(runner))
            if begin >= end:
                raise ValueError(
                    f'StoMPPHook: the warm-up ends at iteration {begin}, not '
                    f'before the schedule\'s end ({end}); set a later end or '
                    'after_warmup=False')
            self.window = (begin, end)
        window = None
        if self.layer_window is not None:
            window = self.to_iters(runner, self.layer_window)
        self.windows = [
            split_window(w, self.split) for w in layer_windows(
                len(names), begin, end, self.order, window)
        ]
        self.seed = int(getattr(runner, 'seed', 0) or 0)
        for index, layer in enumerate(self.layers.values()):
            layer.seed_scores(self.seed, index)
        last = runner.max_iters - 1
        unfinished = [
            name for name, (p_w, p_a) in zip(names, self.fractions(last))
            if min(p_w, p_a) < 1
        ]
        if unfinished:
            runner.logger.warning(
                f'StoMPPHook: {len(unfinished)} of {len(names)} layers are '
                f'not fully binary at the last iteration ({last}; first: '
                f'{unfinished[0]}): evaluation and export will see a partly '
                'continuous network. End the schedule before the end of '
                'training (end < max_iters, e.g. end=3 with by_epoch=True '
                'in a 4-epoch run).')

    def fractions(self, step: int) -> List[tuple]:
        """``[(p_weight, p_act), ...]`` per layer at iteration ``step``."""
        return [(frozen_fraction(step, w, self.shape),
                 frozen_fraction(step, a, self.shape))
                for w, a in self.windows]

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        step, rank = runner.iter, get_rank()
        for index, ((name, layer), (p_w, p_a)) in enumerate(
                zip(self.layers.items(), self.fractions(step))):
            layer.set_state(step, p_w, p_a, self.seed, index, rank)
            layer.refresh()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self.log_due(runner):
            return
        per_layer, frozen = {}, []
        for name, layer in self.layers.items():
            frozen.append(layer.frozen_weight_fraction())
            per_layer[f'stompp/{name}/p_weight'] = float(layer.p_weight)
            per_layer[f'stompp/{name}/p_act'] = float(layer.p_act)
            per_layer[f'stompp/{name}/frozen_weight'] = frozen[-1]
        summary = {'train/stompp_frozen_mean': sum(frozen) / len(frozen)}
        self.publish(runner, summary, per_layer)
