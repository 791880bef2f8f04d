# Copyright (c) mmbnn contributors. All rights reserved.
"""The base of the hooks that drive a training rule over a window of the run
(``SURGEHook``, ``StoMPPHook``, ``DistillHook``).

A :class:`ScheduledHook` holds the MMEngine-style window (``begin``, ``end``,
``by_epoch``, converted to iterations in ``before_train``) and the logging
interval, and computes everything from ``runner.iter`` (as MMEngine's
parameter schedulers do), so a resumed run needs no hook state.
:class:`ScalarScheduleHook` adds one scalar schedule over that window.
"""
import math
from numbers import Integral, Real
from typing import Dict, Optional, Tuple

from mmengine.hooks import Hook
from torch import nn

from ..utils import check_choice, unwrap_model
from .logging import log_due, publish_scalars
from .schedule import SCALAR_SCHEDULES, iteration_window, scalar_at


def check_number(owner: str, key: str, value, minimum: Optional[float] = None,
                 integer: bool = False) -> None:
    """Raise a ``ValueError`` naming ``key`` unless ``value`` is a finite
    number (an int if ``integer``) and ``>= minimum``."""
    kind = 'an integer' if integer else 'a finite number'
    bound = '' if minimum is None else f' >= {minimum}'
    number = Integral if integer else Real
    valid = isinstance(value, number) and not isinstance(value, bool)
    valid = valid and math.isfinite(value) and (minimum is None
                                                or value >= minimum)
    if not valid:
        raise ValueError(
            f'{owner}: {key} must be {kind}{bound}, got {key}={value!r}')


class ScheduledHook(Hook):
    """A hook whose values follow the window ``[begin, end)`` of the run.

    - ``begin``/``end`` count iterations, or epochs with ``by_epoch``
      (converted with the dataloader length, as MMEngine's
      ``build_iter_from_epoch``); ``end=None`` is the end of training.
      ``before_train`` of a subclass calls :meth:`set_window`, which stores
      ``self.window = (begin_iter, end_iter)``.
    - :meth:`log_due`: every ``interval`` iterations and after the last.
    - :meth:`publish`: scalars to the message hub and the visualizer.

    Args:
        begin (float): Window start, >= 0. Defaults to 0.
        end (float, optional): Window end (exclusive), greater than
            ``begin``; None = end of training. Defaults to None.
        by_epoch (bool): ``begin``/``end`` in epochs. Defaults to False.
        interval (int): Logging interval in iterations, >= 1. Defaults
            to 50.
    """

    priority = 'NORMAL'

    def __init__(self,
                 begin: float = 0,
                 end: Optional[float] = None,
                 by_epoch: bool = False,
                 interval: int = 50) -> None:
        owner = type(self).__name__
        check_number(owner, 'begin', begin, minimum=0)
        if end is not None:
            check_number(owner, 'end', end)
            if end <= begin:
                raise ValueError(
                    f'{owner}: end must be greater than begin ({begin}) or '
                    f'None (the end of training), got end={end}')
        check_number(owner, 'interval', interval, minimum=1, integer=True)
        self.begin, self.end, self.by_epoch = begin, end, by_epoch
        self.interval = interval
        self.window: Tuple[int, int] = (0, 1)

    @staticmethod
    def unwrap(model: nn.Module) -> nn.Module:
        """The model inside a DDP/FSDP wrapper (or ``model`` itself)."""
        return unwrap_model(model)

    def to_iters(self, runner, value: float) -> float:
        """``value`` (epochs if ``by_epoch``) in iterations."""
        return value * len(runner.train_dataloader) if self.by_epoch \
            else value

    def set_window(self, runner) -> Tuple[int, int]:
        """Convert the window to iterations and store it in ``window``.

        Raises:
            ValueError: the window is empty in iterations (``begin`` and
                ``end`` round to the same iteration) or starts after the
                end of training with ``end=None``.
        """
        self.window = iteration_window(
            self.begin, self.end, self.by_epoch, len(runner.train_dataloader),
            runner.max_iters, type(self).__name__)
        return self.window

    def log_due(self, runner) -> bool:
        """Whether to log after this iteration."""
        return log_due(self, runner, self.interval)

    def publish(self, runner, summary: Dict[str, float],
                per_layer: Optional[Dict[str, float]] = None) -> None:
        """Write ``summary`` (``train/...``: log line and visualizer) and
        ``per_layer`` (message hub and visualizer backends only)."""
        publish_scalars(runner, summary, per_layer or {})


class ScalarScheduleHook(ScheduledHook):
    """A :class:`ScheduledHook` with one scalar schedule over its window
    (:func:`~mmbnn.engine.schedule.scalar_at`).

    Args:
        schedule (str): One of :data:`~mmbnn.engine.schedule.
            SCALAR_SCHEDULES`.
        begin, end, by_epoch, interval: See :class:`ScheduledHook`.
        start_factor (float): Warm-up start, a fraction of the value, >= 0.
        end_factor (float): Decay end, a fraction of the value, >= 0.
    """

    def __init__(self,
                 schedule: str,
                 begin: float = 0,
                 end: Optional[float] = None,
                 by_epoch: bool = False,
                 start_factor: float = 0.0,
                 end_factor: float = 0.0,
                 interval: int = 50) -> None:
        self.schedule = check_choice('schedule', schedule, SCALAR_SCHEDULES)
        super().__init__(begin, end, by_epoch, interval)
        owner = type(self).__name__
        check_number(owner, 'start_factor', start_factor, minimum=0)
        check_number(owner, 'end_factor', end_factor, minimum=0)
        self.start_factor, self.end_factor = start_factor, end_factor

    def value_at(self, step: int, base: float = 1.0) -> float:
        """``base`` under the schedule at iteration ``step``."""
        return scalar_at(step, base, self.schedule, *self.window,
                         self.start_factor, self.end_factor)
