# Copyright (c) mmbnn contributors. All rights reserved.
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.runner import Runner

from mmbnn.surge import SURGEHook, eta_at

from ..toy import toy_runner_cfg

SURGE_CONV = dict(type='BinaryConv', compensator=dict(type='SURGE'))


@pytest.mark.parametrize('step', [0, 5, 10, 15, 20, 30])
def test_eta_schedules_follow_their_formulas(step):
    begin, end, eta = 10, 20, 0.8
    p = min(max((step - begin) / (end - begin), 0), 1)
    expected = {
        'constant': eta,
        'linear_warmup': eta * (0.1 + 0.9 * p),
        'linear_decay': eta * (1 - 0.8 * p),
        'cosine_decay': eta * (0.2 + 0.8 * (1 + math.cos(math.pi * p)) / 2),
    }
    for schedule, value in expected.items():
        got = eta_at(step, eta, schedule, begin, end, start_factor=0.1,
                     end_factor=0.2)
        assert got == pytest.approx(value), schedule


def test_bad_hook_arguments():
    with pytest.raises(ValueError, match="schedule='step'.*'linear_warmup'"):
        SURGEHook(schedule='step')
    for eta in (-1, float('nan'), float('inf'), None):
        with pytest.raises(ValueError,
                           match=r'SURGEHook: eta must be a finite number >= '
                           rf'0, got eta={eta!r}'):
            SURGEHook(eta=eta)
    with pytest.raises(ValueError, match='end must be greater than begin'):
        SURGEHook(schedule='linear_warmup', begin=2, end=1, by_epoch=True)
    with pytest.raises(ValueError, match='start_factor must be a finite'):
        SURGEHook(schedule='linear_warmup', start_factor=float('nan'))
    # a window that rounds to no iteration at all
    hook = SURGEHook(schedule='linear_warmup', begin=0.1, end=0.2,
                     by_epoch=True)
    runner = SimpleNamespace(
        model=_toy_model(SURGE_CONV), train_dataloader=[0] * 2, max_iters=20)
    with pytest.raises(ValueError, match='iterations 0 to 0'):
        hook.before_train(runner)


def _toy_model(conv_cfg):
    from mmengine.registry import MODELS
    return MODELS.build(dict(type='ToyBinaryNet', conv_cfg=conv_cfg))


def test_model_without_surge_is_an_error():
    runner = SimpleNamespace(
        model=_toy_model(dict(type='BinaryConv')), train_dataloader=[0],
        max_iters=1)
    with pytest.raises(RuntimeError, match='no SURGE layer'):
        SURGEHook().before_train(runner)


def test_epoch_window_converts_to_iterations():
    hook = SURGEHook(eta=1.0, schedule='linear_warmup', begin=1, end=3,
                     by_epoch=True)
    runner = SimpleNamespace(
        model=_toy_model(SURGE_CONV), train_dataloader=[0] * 4, max_iters=40)
    hook.before_train(runner)
    assert hook.window == (4, 12)
    assert sorted(hook.compensators) == ['conv1', 'conv2']
    assert hook.eta_at(8) == pytest.approx(0.5)


def _train(tmp_path, name, max_iters=6, resume=None):
    hook = dict(type='SURGEHook', eta=0.6, schedule='linear_decay',
                end=6, end_factor=0.5, interval=1)
    cfg = toy_runner_cfg(tmp_path / name, [hook], SURGE_CONV, max_iters)
    if resume:
        cfg.update(load_from=str(resume), resume=True)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_hook_sets_eta_and_logs_to_message_hub(tmp_path):
    runner = _train(tmp_path, 'logs')
    hub = runner.message_hub
    # eta of the last iteration (iter 5 of a 0..6 linear decay 0.6 -> 0.3)
    assert hub.get_scalar('train/surge_eta').current() == pytest.approx(
        0.6 * (1 - 0.5 * 5 / 6))
    lams = [hub.get_scalar(f'surge/{n}/lambda').current()
            for n in ('conv1', 'conv2')]
    assert hub.get_scalar('train/surge_lambda_mean').current() == \
        pytest.approx(sum(lams) / 2)
    assert hub.get_scalar('train/surge_lambda_max').current() == max(lams)
    assert all(v > 0 for v in lams)
    model = runner.model
    assert float(model.conv1.compensator.eta) == pytest.approx(
        0.6 * (1 - 0.5 * 5 / 6))
    assert lams[0] == pytest.approx(float(model.conv1.compensator.last_lambda))
    scalars = (tmp_path / 'logs').rglob('scalars.json')
    text = ''.join(p.read_text() for p in scalars)
    # per-layer scalars and the log-line summaries reach the vis backend
    assert '"surge/conv1/grad_norm_aux"' in text
    assert '"surge_lambda_mean"' in text


def test_resume_continues_with_identical_surge_state(tmp_path):
    full = _train(tmp_path, 'full')
    resumed = _train(tmp_path, 'resumed',
                     resume=tmp_path / 'full' / 'iter_3.pth')
    assert resumed.iter == 6
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for key in a:
        if 'compensator' in key or key.endswith('weight'):
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0,
                                       msg=key)
    assert float(resumed.model.conv2.compensator.num_updates) == 6


def test_layers_the_loss_does_not_reach_stay_out_of_the_lambda_range():
    from mmengine.logging import MessageHub
    model = _toy_model(SURGE_CONV).train()
    x = torch.randn(2, 3, 12, 12)
    y1 = model.conv1(model.stem(x))
    y2 = model.conv2(y1)
    # conv2 is in the graph but receives an all-zero output gradient
    (y1.square().sum() + 0 * y2.sum()).backward()
    hook = SURGEHook(eta=0.5, interval=1)
    hook.compensators = hook.find_compensators(model)
    hub = MessageHub.get_instance('surge_unreached_layer_test')
    runner = SimpleNamespace(
        iter=0, max_iters=1, message_hub=hub,
        visualizer=SimpleNamespace(add_scalars=lambda *args, **kwargs: None))
    hook.after_train_iter(runner, 0)

    conv1, conv2 = model.conv1.compensator, model.conv2.compensator
    assert float(conv2.grad_norm_binary) == float(conv2.grad_norm_aux) == 0
    assert float(conv2.last_lambda) == 0  # the zero-gradient guard
    assert float(conv1.last_lambda) > 0
    assert hub.get_scalar('train/surge_layers_without_grad').current() == 1
    # lambda's summaries come from conv1 alone, the norms' from both layers
    for stat in ('mean', 'min', 'max'):
        assert hub.get_scalar(f'train/surge_lambda_{stat}').current() == \
            pytest.approx(float(conv1.last_lambda))
    assert hub.get_scalar('train/surge_grad_norm_binary_mean').current() == \
        pytest.approx(float(conv1.grad_norm_binary) / 2)
    assert hub.get_scalar('surge/conv2/lambda').current() == 0
