# Copyright (c) mmbnn contributors. All rights reserved.
"""Schedules of non-optimizer values (SURGE's eta, StoMPP's frozen
fractions, the distillation weights): MMEngine-style ``begin``/``end``/
``by_epoch`` windows and the scalar schedules over them (pure functions)."""
import math
from typing import Optional, Tuple

from ..utils import check_choice

SCALAR_SCHEDULES = ('constant', 'linear_warmup', 'linear_decay',
                    'cosine_decay')


def iteration_window(begin: float, end: Optional[float], by_epoch: bool,
                     epoch_length: int, max_iters: int,
                     owner: str) -> Tuple[int, int]:
    """Convert a schedule window to iterations, as MMEngine's
    ``build_iter_from_epoch`` does.

    Args:
        begin (float): First step of the window (epochs if ``by_epoch``).
        end (float, optional): End of the window (exclusive). None means the
            end of training.
        by_epoch (bool): Whether ``begin``/``end`` count epochs.
        epoch_length (int): Iterations per epoch.
        max_iters (int): Iterations of the whole run.
        owner (str): Who asks, for error messages.

    Returns:
        tuple[int, int]: ``(begin_iter, end_iter)``.
    """
    scale = epoch_length if by_epoch else 1
    begin_iter = int(round(begin * scale))
    end_iter = max_iters if end is None else int(round(end * scale))
    if begin_iter < 0:
        raise ValueError(f'{owner}: begin must be >= 0, got begin={begin}')
    if end_iter <= begin_iter:
        raise ValueError(f'{owner}: end must be greater than begin, got '
                         f'begin={begin}, end={end} (by_epoch={by_epoch}; '
                         f'iterations {begin_iter} to {end_iter})')
    return begin_iter, end_iter


def scalar_at(step: int,
              base: float,
              schedule: str = 'constant',
              begin: int = 0,
              end: int = 1,
              start_factor: float = 0.0,
              end_factor: float = 0.0) -> float:
    """A scheduled value at iteration ``step``.

    With ``progress = clip((step - begin) / (end - begin), 0, 1)``:

    - ``constant``: ``base``;
    - ``linear_warmup``: ``base * (start_factor + (1 - start_factor) *
      progress)``, i.e. from ``start_factor * base`` up to ``base``;
    - ``linear_decay``: ``base * (1 + (end_factor - 1) * progress)``, from
      ``base`` down to ``end_factor * base``;
    - ``cosine_decay``: ``base * (end_factor + (1 - end_factor) *
      (1 + cos(pi * progress)) / 2)``.

    Args:
        step (int): The iteration (``runner.iter``).
        base (float): The value the schedule scales.
        schedule (str): One of :data:`SCALAR_SCHEDULES`.
        begin, end (int): The window in iterations (``end > begin``).
        start_factor (float): Warm-up start, as a fraction of ``base``.
        end_factor (float): Decay end, as a fraction of ``base``.

    Returns:
        float: The value for this iteration.
    """
    check_choice('schedule', schedule, SCALAR_SCHEDULES)
    if schedule == 'constant':
        return base
    progress = min(max((step - begin) / (end - begin), 0.0), 1.0)
    if schedule == 'linear_warmup':
        return base * (start_factor + (1 - start_factor) * progress)
    if schedule == 'linear_decay':
        return base * (1 + (end_factor - 1) * progress)
    return base * (end_factor + (1 - end_factor) *
                   (1 + math.cos(math.pi * progress)) / 2)
