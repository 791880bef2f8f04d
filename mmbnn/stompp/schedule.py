# Copyright (c) mmbnn contributors. All rights reserved.
"""StoMPP's frozen-fraction schedule p_l(t) (pure functions).

Layers ``l = 0 .. L-1`` are numbered in execution order (input to output).
The training window ``[begin, end)`` (iterations) is cut into ``L``
consecutive per-layer windows of ``S = layer_window`` iterations (default
``(end - begin) / L``); in layer ``l``'s window the frozen fraction rises
from 0 to 1 along ``shape``:

    tau_l(t) = clip((t - begin - rank_l * S) / S, 0, 1),   p_l(t) = f(tau_l)

where ``rank_l = l`` for ``order='forward'``, ``L - 1 - l`` for
``'reverse'``, and ``order='global'`` gives every layer
``f(clip((t - begin) / (end - begin), 0, 1))``. Before its window a layer is
fully continuous (p = 0), after it fully binary (p = 1).

``split`` decides whether a layer's weights and input activations freeze
together (``'joint'``) or one after the other in the two halves of the
layer's window (``'weights_first'``, ``'acts_first'``).
"""
import math
from typing import Callable, Dict, Optional, Tuple

from ..utils import check_choice

SHAPES: Dict[str, Callable[[float], float]] = {
    'linear': lambda t: t,
    'quadratic': lambda t: t * t,
    'cubic': lambda t: t**3,
    'cosine': lambda t: (1 - math.cos(math.pi * t)) / 2,
    'flipped_quadratic': lambda t: 1 - (1 - t)**2,
}
ORDERS = ('forward', 'reverse', 'global')
SPLITS = ('joint', 'weights_first', 'acts_first')


def layer_windows(num_layers: int,
                  begin: int,
                  end: int,
                  order: str = 'forward',
                  layer_window: Optional[int] = None) -> list:
    """``[(start, stop), ...]`` in iterations for each layer (execution
    order), validated.

    Raises:
        ValueError: unknown ``order``, ``end <= begin``, no layers, or
            ``num_layers * layer_window`` not fitting in ``[begin, end)``.
    """
    check_choice('order', order, ORDERS)
    if num_layers < 1:
        raise ValueError('StoMPP needs at least one progressive layer')
    if end <= begin:
        raise ValueError(f'StoMPP schedule: end must be greater than begin, '
                         f'got begin={begin}, end={end}')
    if order == 'global':
        return [(begin, end)] * num_layers
    span = end - begin
    if layer_window is None:
        size = span / num_layers
    else:
        if layer_window <= 0 or num_layers * layer_window > span:
            raise ValueError(
                f'StoMPP schedule: layer_window={layer_window} does not fit: '
                f'{num_layers} layers x {layer_window} iterations > end - '
                f'begin = {span}')
        size = float(layer_window)
    windows = []
    for layer in range(num_layers):
        rank = layer if order == 'forward' else num_layers - 1 - layer
        start = begin + rank * size
        windows.append((start, start + size))
    return windows


def frozen_fraction(step: float, window: Tuple[float, float],
                    shape: str = 'cubic') -> float:
    """p(t) of one tensor whose freezing window is ``window``."""
    f = SHAPES[check_choice('shape', shape, SHAPES)]
    start, stop = window
    tau = min(max((step - start) / (stop - start), 0.0), 1.0)
    return float(f(tau))


def split_window(window: Tuple[float, float],
                 split: str = 'joint') -> Tuple[tuple, tuple]:
    """``(weight window, activation window)`` of one layer."""
    check_choice('split', split, SPLITS)
    if split == 'joint':
        return window, window
    start, stop = window
    mid = (start + stop) / 2
    first, second = (start, mid), (mid, stop)
    return (first, second) if split == 'weights_first' else (second, first)
