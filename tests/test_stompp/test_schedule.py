# Copyright (c) mmbnn contributors. All rights reserved.
import math

import pytest

from mmbnn.stompp import (SHAPES, frozen_fraction, layer_windows,
                          split_window)

FORMULAS = {
    'linear': lambda t: t,
    'quadratic': lambda t: t**2,
    'cubic': lambda t: t**3,
    'cosine': lambda t: (1 - math.cos(math.pi * t)) / 2,
    'flipped_quadratic': lambda t: 1 - (1 - t)**2,
}
L, BEGIN, END = 4, 10, 50  # windows of 10 iterations


def _tau(t, rank, size=10):
    return min(max((t - BEGIN - rank * size) / size, 0), 1)


@pytest.mark.parametrize('shape', sorted(SHAPES))
@pytest.mark.parametrize('order', ['forward', 'reverse', 'global'])
def test_p_follows_formula(shape, order):
    windows = layer_windows(L, BEGIN, END, order)
    for t in range(0, 60, 3):
        for layer, window in enumerate(windows):
            if order == 'global':
                tau = min(max((t - BEGIN) / (END - BEGIN), 0), 1)
            else:
                rank = layer if order == 'forward' else L - 1 - layer
                tau = _tau(t, rank)
            assert frozen_fraction(t, window, shape) == pytest.approx(
                FORMULAS[shape](tau))


@pytest.mark.parametrize('shape', sorted(SHAPES))
def test_forward_order_freezes_input_side_first_and_ends_binary(shape):
    windows = layer_windows(L, BEGIN, END, 'forward')
    for t in range(0, 70):
        p = [frozen_fraction(t, w, shape) for w in windows]
        assert all(a >= b for a, b in zip(p, p[1:])), (t, p)
    assert [frozen_fraction(END, w, shape) for w in windows] == [1.0] * L
    assert [frozen_fraction(BEGIN, w, shape) for w in windows] == [0.0] * L


def test_layer_window_and_split():
    windows = layer_windows(3, 0, 100, 'forward', layer_window=20)
    assert windows == [(0, 20), (20, 40), (40, 60)]
    assert split_window((0, 20), 'joint') == ((0, 20), (0, 20))
    assert split_window((0, 20), 'weights_first') == ((0, 10), (10, 20))
    assert split_window((0, 20), 'acts_first') == ((10, 20), (0, 10))


@pytest.mark.parametrize('call,match', [
    (lambda: layer_windows(4, 0, 10, 'backward'),
     "order='backward'.*'forward'.*'reverse'.*'global'"),
    (lambda: frozen_fraction(1, (0, 2), 'exp'), "shape='exp'.*'cubic'"),
    (lambda: split_window((0, 2), 'both'), "split='both'.*'joint'"),
    (lambda: layer_windows(4, 10, 10), 'end must be greater than begin'),
    (lambda: layer_windows(4, 0, 30, layer_window=10),
     'layer_window=10 does not fit'),
])
def test_bad_schedules_are_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
