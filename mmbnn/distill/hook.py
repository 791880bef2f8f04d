# Copyright (c) mmbnn contributors. All rights reserved.
"""DistillHook: schedules the distillation loss weights and logs them."""
from typing import Dict, Optional, Sequence

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..engine import iteration_window, log_due, publish_scalars
from ..surge.schedule import ETA_SCHEDULES, eta_at
from ..utils import check_choice
from .losses import BaseDistillLoss


@HOOKS.register_module()
class DistillHook(Hook):
    """Warm-up (or decay) of the distillation loss weights.

    - ``before_train``: finds the losses of the distillation detector (a
      model without them is an error) and converts the window to
      iterations.
    - ``before_train_iter``: sets every scheduled loss's ``weight_factor``
      to the schedule's value at ``runner.iter`` (a pure function of the
      iteration, so resume needs no hook state); the loss is then
      ``loss_weight * weight_factor * value``.
    - ``after_train_iter``, every ``interval`` iterations: logs
      ``train/kd_weight_<name>`` (``loss_weight * weight_factor``) for every
      loss, in the log line, the message hub and the visualizer.

    Args:
        schedule (str): ``'constant'``, ``'linear_warmup'`` (from
            ``start_factor`` to 1 over the window), ``'linear_decay'`` or
            ``'cosine_decay'`` (from 1 to ``end_factor``), as SURGE's eta
            schedules (:func:`mmbnn.surge.eta_at` with eta 1). Defaults to
            ``'linear_warmup'``.
        begin (float): Window start. Defaults to 0.
        end (float, optional): Window end; None = end of training.
        by_epoch (bool): ``begin``/``end`` in epochs. Defaults to False.
        start_factor (float): Warm-up start factor. Defaults to 0.
        end_factor (float): Decay end factor. Defaults to 0.
        losses (Sequence[str], optional): The ``model.distill_cfg`` names to
            schedule; None = all. Unscheduled losses keep factor 1 and are
            logged too.
        interval (int): Logging interval in iterations. Defaults to 50.
    """

    priority = 'NORMAL'

    def __init__(self,
                 schedule: str = 'linear_warmup',
                 begin: float = 0,
                 end: Optional[float] = None,
                 by_epoch: bool = False,
                 start_factor: float = 0.0,
                 end_factor: float = 0.0,
                 losses: Optional[Sequence[str]] = None,
                 interval: int = 50) -> None:
        self.schedule = check_choice('schedule', schedule, ETA_SCHEDULES)
        if interval < 1:
            raise ValueError(
                f'DistillHook: interval must be >= 1, got {interval}')
        self.begin, self.end, self.by_epoch = begin, end, by_epoch
        self.start_factor, self.end_factor = start_factor, end_factor
        self.loss_names = None if losses is None else list(losses)
        self.interval = interval
        self.losses: Dict[str, BaseDistillLoss] = {}
        self.window = (0, 1)

    @staticmethod
    def find_losses(model) -> Dict[str, BaseDistillLoss]:
        """``{name: loss}`` of the model's ``distill_losses``."""
        if is_model_wrapper(model):
            model = model.module
        losses = getattr(model, 'distill_losses', None)
        return dict(losses.items()) if losses is not None else {}

    def before_train(self, runner) -> None:
        self.losses = self.find_losses(runner.model)
        if not self.losses:
            raise RuntimeError(
                'DistillHook found no distillation loss: the model must be a '
                'DistillTwoStageDetector / DistillSingleStageDetector with '
                'model.distill_cfg, or remove the hook')
        unknown = sorted(set(self.loss_names or ()) - set(self.losses))
        if unknown:
            raise ValueError(
                f'DistillHook: losses={unknown} are not in model.distill_cfg '
                f'(it has {sorted(self.losses)})')
        self.window = iteration_window(
            self.begin, self.end, self.by_epoch,
            len(runner.train_dataloader), runner.max_iters, 'DistillHook')

    def factor_at(self, step: int) -> float:
        """The weight factor of iteration ``step``."""
        return eta_at(step, 1.0, self.schedule, *self.window,
                      self.start_factor, self.end_factor)

    def _scheduled(self, name: str) -> bool:
        return self.loss_names is None or name in self.loss_names

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        factor = self.factor_at(runner.iter)
        for name, loss in self.losses.items():
            if self._scheduled(name):
                loss.weight_factor = factor

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not log_due(self, runner, self.interval):
            return
        summary = {
            f'train/kd_weight_{name}': loss.effective_weight
            for name, loss in self.losses.items()
        }
        publish_scalars(runner, summary, {})
