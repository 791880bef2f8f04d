# Copyright (c) mmbnn contributors. All rights reserved.
"""The eta schedule of SURGE's Adaptive Gradient Scaler (pure functions)."""
import math

from ..utils import check_choice

ETA_SCHEDULES = ('constant', 'linear_warmup', 'linear_decay', 'cosine_decay')


def eta_at(step: int,
           eta: float,
           schedule: str = 'constant',
           begin: int = 0,
           end: int = 1,
           start_factor: float = 0.0,
           end_factor: float = 0.0) -> float:
    """Eta at iteration ``step``.

    With ``progress = clip((step - begin) / (end - begin), 0, 1)``:

    - ``constant``: ``eta``;
    - ``linear_warmup``: ``eta * (start_factor + (1 - start_factor) *
      progress)``, i.e. from ``start_factor * eta`` up to ``eta``;
    - ``linear_decay``: ``eta * (1 + (end_factor - 1) * progress)``, from
      ``eta`` down to ``end_factor * eta``;
    - ``cosine_decay``: ``eta * (end_factor + (1 - end_factor) *
      (1 + cos(pi * progress)) / 2)``.

    Args:
        step (int): The iteration (``runner.iter``).
        eta (float): The base value.
        schedule (str): One of :data:`ETA_SCHEDULES`.
        begin, end (int): The window in iterations (``end > begin``).
        start_factor (float): Warm-up start, as a fraction of ``eta``.
        end_factor (float): Decay end, as a fraction of ``eta``.

    Returns:
        float: Eta for this iteration.
    """
    check_choice('schedule', schedule, ETA_SCHEDULES)
    if schedule == 'constant':
        return eta
    progress = min(max((step - begin) / (end - begin), 0.0), 1.0)
    if schedule == 'linear_warmup':
        return eta * (start_factor + (1 - start_factor) * progress)
    if schedule == 'linear_decay':
        return eta * (1 + (end_factor - 1) * progress)
    return eta * (end_factor + (1 - end_factor) *
                  (1 + math.cos(math.pi * progress)) / 2)
