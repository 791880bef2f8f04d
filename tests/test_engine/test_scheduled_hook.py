# Copyright (c) mmbnn contributors. All rights reserved.
"""ScheduledHook / ScalarScheduleHook: the window, the logging interval and
the argument checks shared by SURGEHook, StoMPPHook and DistillHook."""
from types import SimpleNamespace

import pytest
from torch import nn

from mmbnn.distill import DistillHook
from mmbnn.engine import (SCALAR_SCHEDULES, ScalarScheduleHook,
                          ScheduledHook, scalar_at)
from mmbnn.stompp import StoMPPHook
from mmbnn.surge import SURGEHook, eta_at

NAN, INF = float('nan'), float('inf')


def _runner(epoch_length=4, max_iters=20, it=0):
    return SimpleNamespace(train_dataloader=[0] * epoch_length,
                           max_iters=max_iters, iter=it,
                           train_loop=SimpleNamespace(max_iters=max_iters))


@pytest.mark.parametrize('begin,end,by_epoch,expected', [
    (0, None, False, (0, 20)),
    (3, 7, False, (3, 7)),
    (1, 3, True, (4, 12)),
    (0.5, None, True, (2, 20)),
    (0.25, 1.75, True, (1, 7)),
])
def test_window_in_iterations(begin, end, by_epoch, expected):
    """begin/end scale by the epoch length with by_epoch, round to the
    nearest iteration, and end=None is max_iters."""
    hook = ScheduledHook(begin, end, by_epoch)
    assert hook.set_window(_runner()) == expected
    assert hook.window == expected
    length = 4 if by_epoch else 1
    assert hook.window[0] == round(begin * length)
    assert hook.to_iters(_runner(), 2) == 2 * length


@pytest.mark.parametrize('interval', [1, 3, 7])
def test_log_due_every_interval_and_at_the_last_iteration(interval):
    hook = ScheduledHook(interval=interval)
    due = [it for it in range(20) if hook.log_due(_runner(it=it))]
    expected = {it for it in range(20) if (it + 1) % interval == 0} | {19}
    assert due == sorted(expected)


def test_value_at_follows_the_schedule_inside_the_window():
    hook = ScalarScheduleHook('linear_warmup', begin=1, end=3, by_epoch=True,
                              start_factor=0.2)
    hook.set_window(_runner())  # iterations 4 to 12
    assert hook.value_at(0) == pytest.approx(0.2)
    assert hook.value_at(4) == pytest.approx(0.2)
    assert hook.value_at(8, base=2.0) == pytest.approx(2 * (0.2 + 0.8 / 2))
    assert hook.value_at(12) == hook.value_at(30) == 1.0
    for schedule in SCALAR_SCHEDULES:
        hook = ScalarScheduleHook(schedule, end=10, end_factor=0.1)
        hook.set_window(_runner())
        assert hook.value_at(6, 0.5) == scalar_at(6, 0.5, schedule, 0, 10,
                                                  0.0, 0.1)
    assert eta_at is scalar_at  # SURGE's name for the same schedules


def test_unwrap():
    from mmengine.registry import MODEL_WRAPPERS
    inner = nn.Linear(2, 2)

    @MODEL_WRAPPERS.register_module(force=True)
    class _Wrapper(nn.Module):

        def __init__(self, module):
            super().__init__()
            self.module = module

    assert ScheduledHook.unwrap(_Wrapper(inner)) is inner
    assert ScheduledHook.unwrap(inner) is inner


@pytest.mark.parametrize('hook_cls', [SURGEHook, StoMPPHook, DistillHook])
def test_window_and_interval_errors_name_the_key(hook_cls):
    name = hook_cls.__name__
    for begin in (NAN, INF, -1, '0', None):
        with pytest.raises(ValueError,
                           match=rf'{name}: begin must be a finite number '
                           r'>= 0, got begin='):
            hook_cls(begin=begin)
    for end in (2, 1):
        with pytest.raises(ValueError,
                           match=rf'{name}: end must be greater than begin '
                           rf'\(2\) or None \(the end of training\), got '
                           rf'end={end}'):
            hook_cls(begin=2, end=end)
    with pytest.raises(ValueError, match=rf'{name}: end must be a finite'):
        hook_cls(end=NAN)
    for interval in (0, 1.5, True):
        with pytest.raises(ValueError,
                           match=rf'{name}: interval must be an integer >= '
                           rf'1, got interval={interval!r}'):
            hook_cls(interval=interval)


@pytest.mark.parametrize('hook_cls', [SURGEHook, DistillHook])
def test_factor_errors_name_the_key(hook_cls):
    for key in ('start_factor', 'end_factor'):
        for value in (NAN, -0.5):
            with pytest.raises(ValueError,
                               match=rf'{key} must be a finite number >= 0, '
                               rf'got {key}={value!r}'):
                hook_cls(schedule='linear_warmup', **{key: value})
    with pytest.raises(ValueError, match="schedule='step'.*'cosine_decay'"):
        hook_cls(schedule='step')


def test_valid_arguments_are_kept():
    hook = SURGEHook(eta=0.0, begin=0.5, end=1.5, by_epoch=True, interval=2)
    assert (hook.eta, hook.begin, hook.end, hook.by_epoch, hook.interval) == \
        (0.0, 0.5, 1.5, True, 2)
    assert StoMPPHook(end=None, layer_window=2.5).layer_window == 2.5
