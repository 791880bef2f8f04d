# Copyright (c) mmbnn contributors. All rights reserved.
"""DistillHook: schedules the distillation loss weights and logs them."""
from typing import Dict, Optional, Sequence

from mmdet.registry import HOOKS

from ..engine.scheduled_hook import ScalarScheduleHook
from .losses import BaseDistillLoss


@HOOKS.register_module()
class DistillHook(ScalarScheduleHook):
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
            ``'cosine_decay'`` (from 1 to ``end_factor``): the scalar
            schedules of :func:`mmbnn.engine.schedule.scalar_at` with base
            1. Defaults to ``'linear_warmup'``.
        begin (float): Window start, >= 0. Defaults to 0.
        end (float, optional): Window end, greater than ``begin``; None =
            end of training.
        by_epoch (bool): ``begin``/``end`` in epochs. Defaults to False.
        start_factor (float): Warm-up start factor, >= 0. Defaults to 0.
        end_factor (float): Decay end factor, >= 0. Defaults to 0.
        losses (Sequence[str], optional): The ``model.distill_cfg`` names to
            schedule; None = all. Unscheduled losses keep factor 1 and are
            logged too.
        interval (int): Logging interval in iterations. Defaults to 50.
    """

    def __init__(self,
                 schedule: str = 'linear_warmup',
                 begin: float = 0,
                 end: Optional[float] = None,
                 by_epoch: bool = False,
                 start_factor: float = 0.0,
                 end_factor: float = 0.0,
                 losses: Optional[Sequence[str]] = None,
                 interval: int = 50) -> None:
        super().__init__(schedule, begin, end, by_epoch, start_factor,
                         end_factor, interval)
        self.loss_names = None if losses is None else list(losses)
        self.losses: Dict[str, BaseDistillLoss] = {}

    @classmethod
    def find_losses(cls, model) -> Dict[str, BaseDistillLoss]:
        """``{name: loss}`` of the model's ``distill_losses``."""
        losses = getattr(cls.unwrap(model), 'distill_losses', None)
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
        self.set_window(runner)

    def factor_at(self, step: int) -> float:
        """The weight factor of iteration ``step``."""
        return self.value_at(step)

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
        if not self.log_due(runner):
            return
        summary = {
            f'train/kd_weight_{name}': loss.effective_weight
            for name, loss in self.losses.items()
        }
        self.publish(runner, summary)
