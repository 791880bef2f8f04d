# Copyright (c) mmbnn contributors. All rights reserved.
import math

import pytest
import torch

from mmbnn.ops import BinaryConv, hard_sign


def _conv(c_in=64, c_out=64, **kwargs):
    torch.manual_seed(0)
    return BinaryConv(c_in, c_out, 3, padding=1,
                      progressive=dict(type='StoMPP', **kwargs))


def test_frozen_fraction_within_binomial_tolerance():
    conv = _conv()
    n = conv.weight.numel()
    for p in (0.1, 0.5, 0.9):
        conv.progressive.set_state(0, p, p, seed=0, layer_index=0)
        f = conv.progressive.frozen_weight_fraction()
        assert abs(f - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_soft_refresh_redraws_about_one_in_r():
    for r in (10, 100):
        conv = _conv(refresh_rate=r)
        m = conv.progressive
        n = m.scores.numel()
        for step in range(3):
            before = m.scores.clone()
            m.set_state(step, 0.5, 0.5, seed=0, layer_index=0)
            m.refresh()
            changed = float((m.scores != before).float().mean())
            # n / r draws with replacement: expected distinct fraction
            expected = 1 - (1 - 1 / n)**round(n / r)
            assert abs(expected - 1 / r) < 0.06 / r
            assert abs(changed - expected) < 4 * math.sqrt(expected / n)
    m = _conv(refresh_rate=0).progressive
    before = m.scores.clone()
    m.refresh()
    assert torch.equal(m.scores, before)


def test_masks_are_counter_based():
    a, b = _conv().progressive, _conv().progressive
    for m in (a, b):
        m.set_state(7, 0.5, 0.5, seed=3, layer_index=2)
        m.refresh()
    assert torch.equal(a.scores, b.scores)
    x = torch.randn(2, 64, 4, 4)
    a.train(), b.train()
    assert torch.equal(a.binarize_act(x), b.binarize_act(x))
    b.set_state(8, 0.5, 0.5, seed=3, layer_index=2)
    assert not torch.equal(a.binarize_act(x), b.binarize_act(x))


def _masked_grad(conv, which):
    """Gradients of the conv's weight (or input) and the frozen mask."""
    m = conv.progressive
    x = torch.randn(2, 64, 5, 5).mul_(1.5).requires_grad_(True)
    if which == 'weight':
        u = conv.weight
        mask = m.weight_mask()
        w = m.binarize_weight(u)
        (w * torch.randn_like(w)).sum().backward()
        return u.grad, mask, u
    # the activation mask is drawn inside the call; recover it from values
    out = m.binarize_act(x)
    mask = (out.abs() == 1) & (x.abs() < 1)
    out.backward(torch.ones_like(out))
    return x.grad, mask, x


@pytest.mark.parametrize('which', ['weight', 'act'])
def test_ste_free_frozen_entries_get_zero_gradient(which):
    conv = _conv()
    conv.progressive.set_state(0, 0.5, 0.5, seed=0, layer_index=0)
    conv.train()
    grad, mask, u = _masked_grad(conv, which)
    assert mask.any() and (~mask).any()
    assert torch.all(grad[mask] == 0)
    inside = (~mask) & (u.detach().abs() < 1)
    assert torch.all(grad[inside] != 0)
    assert torch.all(grad[(~mask) & (u.detach().abs() > 1)] == 0)


@pytest.mark.parametrize('which', ['weight', 'act'])
def test_ste_on_frozen_gives_the_surrogate(which):
    conv = _conv(ste_on_frozen='identity')
    conv.progressive.set_state(0, 0.5, 0.5, seed=0, layer_index=0)
    conv.train()
    grad, mask, u = _masked_grad(conv, which)
    if which == 'act':
        assert torch.all(grad[mask] == 1)
    else:
        assert torch.all(grad[mask] != 0)
    with pytest.raises(ValueError, match="ste_on_frozen='ste'.*'identity'"):
        _conv(ste_on_frozen='ste')


@pytest.mark.parametrize('training', [True, False])
def test_p_one_is_exactly_the_hard_binary_network(training):
    torch.manual_seed(0)
    conv = BinaryConv(64, 64, 3, padding=1, act_threshold=True,
                      progressive=dict(type='StoMPP'))
    with torch.no_grad():
        conv.threshold.uniform_(-0.2, 0.2)
    plain = BinaryConv(64, 64, 3, padding=1, act_threshold=True)
    plain.load_state_dict(conv.state_dict(), strict=False)
    conv.progressive.set_state(5, 1.0, 1.0, seed=0, layer_index=0)
    conv.train(training), plain.train(training)
    x = torch.randn(2, 64, 6, 6)
    assert torch.equal(conv(x), plain(x))


@pytest.mark.parametrize('scaling', ['none', 'mean_abs'])
@pytest.mark.parametrize('weight_input', ['latent', 'normalized'])
def test_weight_input_sets_what_the_rule_acts_on(scaling, weight_input):
    """Continuous phase (p = 0): the forward weight is clip(W) or
    clip(W / mean|W|), times the scale, with or without a weight scale."""
    torch.manual_seed(0)
    conv = BinaryConv(8, 8, 3, padding=1, weight_scaling=scaling,
                      progressive=dict(type='StoMPP',
                                       weight_input=weight_input))
    conv.progressive.set_state(0, 0.0, 0.0, seed=0, layer_index=0)
    w = conv.weight.detach()
    mean_abs = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    expected = (w / mean_abs if weight_input == 'normalized' else w).clamp(
        -1, 1)
    if scaling == 'mean_abs':
        expected = expected * mean_abs
    assert torch.allclose(conv.binary_weight(), expected, atol=1e-6)
    # p = 1: sign either way
    conv.progressive.set_state(1, 1.0, 1.0, seed=0, layer_index=0)
    signs = torch.where(w >= 0, 1.0, -1.0)
    assert torch.allclose(
        conv.binary_weight(),
        signs * mean_abs if scaling == 'mean_abs' else signs)


def test_eval_is_deterministic_expectation():
    conv = _conv()
    m = conv.progressive
    m.set_state(0, 0.3, 0.25, seed=0, layer_index=0)
    m.eval()
    x = torch.randn(2, 64, 3, 3) * 2
    expected = 0.25 * hard_sign(x) + 0.75 * x.clamp(-1, 1)
    torch.testing.assert_close(m.binarize_act(x), expected)
    assert torch.equal(m.binarize_act(x), m.binarize_act(x))


def test_channel_masks_are_constant_per_channel():
    m = _conv(act_mask='channel').progressive
    m.set_state(0, 0.5, 0.5, seed=0, layer_index=0)
    m.train()
    x = torch.full((2, 64, 4, 4), 0.5)
    out = m.binarize_act(x)  # frozen -> 1.0, continuous -> 0.5
    assert torch.all(out.amax(dim=(2, 3)) == out.amin(dim=(2, 3)))
    with pytest.raises(ValueError, match="act_mask='pixel'.*'channel'"):
        _conv(act_mask='pixel')


def test_composes_with_surge():
    torch.manual_seed(0)
    conv = BinaryConv(8, 8, 3, padding=1,
                      progressive=dict(type='StoMPP'),
                      compensator=dict(type='SURGE', eta=0.5))
    conv.progressive.set_state(0, 0.5, 0.5, seed=0, layer_index=0)
    x = torch.randn(2, 8, 5, 5, requires_grad=True)
    conv(x).sum().backward()
    assert float(conv.compensator.last_lambda) > 0
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize('ste_on_frozen', [None, 'clipped'])
def test_identity_weight_grad_keeps_every_weight_learning(ste_on_frozen):
    conv = _conv(ste_on_frozen=ste_on_frozen, weight_grad='identity')
    m = conv.progressive
    m.set_state(0, 0.5, 0.5, seed=0, layer_index=0)
    conv.train()
    u = torch.randn(conv.weight.shape).mul_(1.5).requires_grad_(True)
    mask = m.weight_mask()
    out = m.binarize_weight(u)
    # the forward value is the rule's, whatever the gradient
    assert torch.equal(out.detach(), torch.where(
        mask, hard_sign(u.detach()), u.detach().clamp(-1, 1)))
    upstream = torch.randn_like(out)
    out.backward(upstream)
    assert ((u.detach().abs() > 1) & ~mask).any()
    # continuous entries, beyond +-1 too: straight through the clip
    torch.testing.assert_close(u.grad[~mask], upstream[~mask])
    frozen = upstream[mask] if ste_on_frozen else torch.zeros_like(
        upstream[mask])
    torch.testing.assert_close(u.grad[mask], frozen)
    # the activations keep the literal rule
    x = torch.randn(2, 64, 5, 5).mul_(1.5).requires_grad_(True)
    m.binarize_act(x).backward(torch.ones_like(x))
    assert torch.all(x.grad[x.detach().abs() > 1] == 0)
    with pytest.raises(ValueError, match="weight_grad='ste'.*'identity'"):
        _conv(weight_grad='ste')


def test_refresh_writes_are_order_independent():
    """Soft refresh picks indices with replacement; every write of a
    repeated index carries its last draw, so the assignment gives the
    sequential result in any order (a CUDA assignment has no fixed order)."""
    from mmbnn.stompp.masking import _last_write_wins
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        n = int(torch.randint(1, 40, (1, ), generator=g))
        index = torch.randint(0, 8, (n, ), generator=g)
        values = torch.rand(n, generator=g)
        sequential = torch.zeros(8)
        for i, v in zip(index.tolist(), values.tolist()):
            sequential[i] = v
        index2, values2 = _last_write_wins(index, values)
        for _ in range(3):
            perm = torch.randperm(n, generator=g)
            shuffled = torch.zeros(8)
            shuffled[index2[perm]] = values2[perm]
            assert torch.equal(shuffled, sequential)


def test_scores_are_seeded_once_and_old_checkpoints_keep_theirs():
    """seed_scores draws from (seed, layer) once; a state dict written
    without the ``scores_seeded`` flag counts as seeded (its scores are
    the run's own)."""
    a, b = _conv().progressive, _conv().progressive
    assert a.seed_scores(7, 3) and b.seed_scores(7, 3)
    assert torch.equal(a.scores, b.scores)
    drawn = a.scores.clone()
    assert not a.seed_scores(8, 3)  # already seeded: kept
    assert torch.equal(a.scores, drawn)
    c = _conv().progressive
    c.seed_scores(7, 4)
    assert not torch.equal(c.scores, drawn)  # another layer, other scores
    old = {k: v for k, v in a.state_dict().items() if k != 'scores_seeded'}
    fresh = _conv().progressive
    fresh.load_state_dict(old)
    assert bool(fresh.scores_seeded)
    assert not fresh.seed_scores(0, 0)
    assert torch.equal(fresh.scores, drawn)
