# Copyright (c) mmbnn contributors. All rights reserved.
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import Runner

from mmbnn.stompp import StoMPPHook, execution_order

from ..conftest import REPO_ROOT
from ..toy import toy_runner_cfg

STOMPP_CONV = dict(type='BinaryConv', progressive=dict(type='StoMPP',
                                                       refresh_rate=10))


def _fake_runner(conv_cfg, max_iters=20, epoch_length=5):
    model = MODELS.build(dict(type='ToyBinaryNet', conv_cfg=conv_cfg))
    return SimpleNamespace(model=model, train_dataloader=[0] * epoch_length,
                           max_iters=max_iters, seed=0)


def test_hook_errors():
    with pytest.raises(RuntimeError, match='no StoMPP layer'):
        StoMPPHook().before_train(_fake_runner(dict(type='BinaryConv')))
    with pytest.raises(ValueError, match="shape='exp'.*'cubic'"):
        StoMPPHook(shape='exp')
    with pytest.raises(ValueError, match="order='random'.*'global'"):
        StoMPPHook(order='random')
    # an empty (or reversed) schedule is refused when the hook is built
    for end in (3, 2):
        with pytest.raises(ValueError,
                           match=r'StoMPPHook: end must be greater than '
                           rf'begin \(3\) or None .*got end={end}'):
            StoMPPHook(begin=3, end=end, by_epoch=True)
    with pytest.raises(ValueError, match='begin must be a finite number >= 0'):
        StoMPPHook(begin=float('nan'))
    with pytest.raises(ValueError, match='interval must be an integer >= 1'):
        StoMPPHook(interval=0)
    with pytest.raises(ValueError, match='layer_window must be > 0'):
        StoMPPHook(layer_window=0)
    with pytest.raises(ValueError, match='does not fit'):
        StoMPPHook(begin=0, end=2, by_epoch=True,
                   layer_window=2).before_train(_fake_runner(STOMPP_CONV))


def test_epoch_windows_convert_to_iterations():
    hook = StoMPPHook(begin=1, end=3, by_epoch=True, shape='linear')
    hook.before_train(_fake_runner(STOMPP_CONV))
    assert list(hook.layers) == ['conv1', 'conv2']
    assert [w for w, _ in hook.windows] == [(5, 10), (10, 15)]
    assert hook.fractions(7) == [(0.4, 0.4), (0.0, 0.0)]


def test_detector_execution_order(mmdet_scope):
    from mmdet.registry import MODELS as DET_MODELS
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_stompp_demo.py'))
    model = DET_MODELS.build(cfg.model)
    model.train()
    order = execution_order(model)
    assert model.training
    assert len(order) == 24
    assert order[:3] == ['backbone.layer1.0.conv1', 'backbone.layer1.0.conv2',
                         'backbone.layer1.1.conv1']
    assert order[15] == 'backbone.layer4.1.conv2'
    assert order[16:] == [f'neck.lateral_convs.{i}.conv' for i in range(4)
                          ] + [f'neck.fpn_convs.{i}.conv' for i in range(4)]


def _train(tmp_path, name, resume=None, **hook):
    cfg = toy_runner_cfg(tmp_path / name,
                         [dict(type='StoMPPHook', interval=1, **hook)],
                         STOMPP_CONV, max_iters=6)
    if resume:
        cfg.update(load_from=str(resume), resume=True)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_logs_and_finishes_binary(tmp_path):
    runner = _train(tmp_path, 'logs', shape='linear', end=4)
    hub = runner.message_hub
    assert hub.get_scalar('train/stompp_frozen_mean').current() == 1.0
    assert hub.get_scalar('stompp/conv1/p_act').current() == 1.0
    history = hub.get_scalar('stompp/conv2/p_weight').data[0]
    assert list(history) == [0.0, 0.0, 0.0, 0.5, 1.0, 1.0]


def test_resume_reproduces_masks_and_training(tmp_path):
    full = _train(tmp_path, 'full')
    resumed = _train(tmp_path, 'resumed',
                     resume=tmp_path / 'full' / 'iter_3.pth')
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    losses = [full.message_hub.get_scalar('train/loss').data[0][-3:],
              resumed.message_hub.get_scalar('train/loss').data[0][-3:]]
    assert list(losses[0]) == list(losses[1])


class _Logger:

    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


@pytest.mark.parametrize('end, warned', [(None, True), (20, True),
                                         (19, False), (3, False)])
def test_warns_when_the_schedule_outlasts_training(end, warned):
    """A schedule still running at the last iteration leaves layers partly
    continuous for evaluation and export: the hook says so."""
    runner = _fake_runner(STOMPP_CONV, max_iters=20)
    runner.logger = _Logger()
    StoMPPHook(end=end, by_epoch=False, shape='cubic').before_train(runner)
    assert bool(runner.logger.warnings) == warned
    if warned:
        assert 'not fully binary at the last iteration (19' in (
            runner.logger.warnings[0])


def test_progression_starts_after_the_warmup():
    """after_warmup moves the first window past the last LinearLR warm-up
    (iteration- or epoch-based); without warm-up nothing moves."""
    from mmengine.optim import CosineAnnealingLR, LinearLR
    optim = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    warmup = LinearLR(optim, start_factor=0.01, by_epoch=False, begin=0,
                      end=7)
    cosine = CosineAnnealingLR(optim, T_max=20, by_epoch=False)
    for schedulers, first in (([warmup, cosine], (7, 13.5)),
                              ([cosine], (0, 10))):
        runner = _fake_runner(STOMPP_CONV)
        runner.param_schedulers = schedulers
        runner.logger = SimpleNamespace(warning=lambda message: None)
        hook = StoMPPHook(begin=0, end=4, by_epoch=True, shape='linear',
                          after_warmup=True)
        hook.before_train(runner)
        assert tuple(hook.windows[0][0]) == pytest.approx(first)
    runner = _fake_runner(STOMPP_CONV)
    runner.param_schedulers = [warmup]
    with pytest.raises(ValueError, match='warm-up ends at iteration 7'):
        StoMPPHook(begin=0, end=7, after_warmup=True).before_train(runner)
