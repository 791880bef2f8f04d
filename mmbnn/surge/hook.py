# Copyright (c) mmbnn contributors. All rights reserved.
"""SURGEHook: schedules AGS's eta and logs lambda and the gradient norms."""
from typing import Dict, Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..engine import iteration_window, log_due, publish_scalars
from ..utils import check_choice
from .compensator import SURGECompensator
from .schedule import ETA_SCHEDULES, eta_at


@HOOKS.register_module()
class SURGEHook(Hook):
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
        eta (float): Base AGS coefficient. Defaults to 1.0.
        schedule (str): ``'constant'``, ``'linear_warmup'``,
            ``'linear_decay'`` or ``'cosine_decay'`` (see
            :func:`~mmbnn.surge.schedule.eta_at`). Defaults to
            ``'constant'``.
        begin (float): Window start. Defaults to 0.
        end (float, optional): Window end; None = end of training.
        by_epoch (bool): ``begin``/``end`` in epochs. Defaults to False.
        start_factor (float): Warm-up start factor. Defaults to 0.
        end_factor (float): Decay end factor. Defaults to 0.
        interval (int): Logging interval in iterations. Defaults to 50.
        log_per_layer (bool): Also log every layer. Defaults to True.
    """

    priority = 'NORMAL'

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
        self.schedule = check_choice('schedule', schedule, ETA_SCHEDULES)
        if eta < 0:
            raise ValueError(f'SURGEHook: eta must be >= 0, got {eta}')
        if interval < 1:
            raise ValueError(
                f'SURGEHook: interval must be >= 1, got {interval}')
        self.eta, self.begin, self.end = eta, begin, end
        self.by_epoch = by_epoch
        self.start_factor, self.end_factor = start_factor, end_factor
        self.interval, self.log_per_layer = interval, log_per_layer
        self.compensators: Dict[str, SURGECompensator] = {}
        self.window = (0, 1)

    @staticmethod
    def find_compensators(model) -> Dict[str, SURGECompensator]:
        """``{conv name: compensator}`` for every SURGE layer."""
        if is_model_wrapper(model):
            model = model.module
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
        self.window = iteration_window(
            self.begin, self.end, self.by_epoch,
            len(runner.train_dataloader), runner.max_iters, 'SURGEHook')

    def eta_at(self, step: int) -> float:
        """Eta of iteration ``step`` under this hook's schedule."""
        return eta_at(step, self.eta, self.schedule, *self.window,
                      self.start_factor, self.end_factor)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        eta = self.eta_at(runner.iter)
        for comp in self.compensators.values():
            comp.eta.fill_(eta)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not log_due(self, runner, self.interval):
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
        publish_scalars(runner, summary, per_layer)
