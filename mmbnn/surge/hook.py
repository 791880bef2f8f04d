# Copyright (c) mmbnn contributors. All rights reserved.
"""SURGEHook: schedules AGS's eta and logs lambda and the gradient norms."""
from typing import Dict, Optional

from mmdet.registry import HOOKS

from ..engine.scheduled_hook import ScalarScheduleHook, check_number
from .compensator import SURGECompensator


@HOOKS.register_module()
class SURGEHook(ScalarScheduleHook):
    """Governs every SURGE compensator of the model.

    - ``before_train``: finds the compensators (a model without any is an
      error) and converts the schedule window to iterations.
    - ``before_train_iter``: writes eta, a pure function of ``runner.iter``
      (so resume needs no hook state), into every compensator.
    - ``after_train_iter``, every ``interval`` iterations: logs
      ``train/surge_eta``, the mean over layers of the two gradient norms,
      lambda's mean/min/max over the layers the loss reached and
      ``train/surge_layers_without_grad`` (these appear in the log line),
      and, if ``log_per_layer``, each layer's ``surge/<layer>/{lambda,
      grad_norm_binary,grad_norm_aux}`` to the message hub and the
      visualizer backends (``vis_data/scalars.json`` by default).

    Lambda itself, ``W_a`` and the EMA state live in the model's parameters
    and buffers, so checkpoints carry them.

    Args:
        eta (float): Base AGS coefficient, a finite number >= 0. Defaults
            to 1.0.
        schedule (str): ``'constant'``, ``'linear_warmup'``,
            ``'linear_decay'`` or ``'cosine_decay'`` (see
            :func:`~mmbnn.engine.schedule.scalar_at`). Defaults to
            ``'constant'``.
        begin (float): Window start, >= 0. Defaults to 0.
        end (float, optional): Window end, greater than ``begin``; None =
            end of training.
        by_epoch (bool): ``begin``/``end`` in epochs. Defaults to False.
        start_factor (float): Warm-up start factor, >= 0. Defaults to 0.
        end_factor (float): Decay end factor, >= 0. Defaults to 0.
        interval (int): Logging interval in iterations. Defaults to 50.
        log_per_layer (bool): Also log every layer. Defaults to True.
    """

    def __init__(self,
                 eta: float = 1.0,
                 schedule: str = 'constant',
                 begin: float = 0,
                 end: Optional[float] = None,
                 by_epoch: bool = False,
                 start_factor: float = 0.0,
                 end_factor: float = 0.0,
                 interval: int = 50,
                 log_per_layer: bool = True) -> None:
        super().__init__(schedule, begin, end, by_epoch, start_factor,
                         end_factor, interval)
        check_number('SURGEHook', 'eta', eta, minimum=0)
        self.eta, self.log_per_layer = eta, log_per_layer
        self.compensators: Dict[str, SURGECompensator] = {}

    @classmethod
    def find_compensators(cls, model) -> Dict[str, SURGECompensator]:
        """``{conv name: compensator}`` for every SURGE layer."""
        model = cls.unwrap(model)
        return {
            name.rsplit('.compensator', 1)[0]: m
            for name, m in model.named_modules()
            if isinstance(m, SURGECompensator)
        }

    def before_train(self, runner) -> None:
        self.compensators = self.find_compensators(runner.model)
        if not self.compensators:
            raise RuntimeError(
                'SURGEHook found no SURGE layer in the model: build the '
                "binary convs with conv_cfg=dict(type='BinaryConv', "
                "compensator=dict(type='SURGE')) or remove the hook")
        self.set_window(runner)

    def eta_at(self, step: int) -> float:
        """Eta of iteration ``step`` under this hook's schedule."""
        return self.value_at(step, self.eta)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        eta = self.eta_at(runner.iter)
        for comp in self.compensators.values():
            comp.eta.fill_(eta)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self.log_due(runner):
            return
        stats = {
            name: dict(
                lambda_=float(c.last_lambda),
                grad_norm_binary=float(c.grad_norm_binary),
                grad_norm_aux=float(c.grad_norm_aux))
            for name, c in self.compensators.items()
        }
        summary = {'train/surge_eta': self.eta_at(runner.iter)}
        for key in ('grad_norm_binary', 'grad_norm_aux'):
            values = [s[key] for s in stats.values()]
            summary[f'train/surge_{key}_mean'] = sum(values) / len(values)
        # A layer the loss did not reach this step (both norms 0, e.g. the
        # top FPN level when no anchor or RoI of one small image lands on
        # it) has lambda 0 by the zero-gradient guard: it is counted apart
        # and left out of lambda's mean/min/max, so that a zero there means
        # a real one.
        reached = [
            s['lambda_'] for s in stats.values()
            if s['grad_norm_binary'] > 0 or s['grad_norm_aux'] > 0
        ]
        summary['train/surge_layers_without_grad'] = len(stats) - len(reached)
        if reached:
            summary.update({
                'train/surge_lambda_mean': sum(reached) / len(reached),
                'train/surge_lambda_min': min(reached),
                'train/surge_lambda_max': max(reached),
            })
        per_layer = {}
        if self.log_per_layer:
            per_layer = {
                f'surge/{name}/{key.rstrip("_")}': value
                for name, s in stats.items() for key, value in s.items()
            }
        self.publish(runner, summary, per_layer)
