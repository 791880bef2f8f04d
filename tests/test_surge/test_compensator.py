# Copyright (c) mmbnn contributors. All rights reserved.
import copy

import pytest
import torch
import torch.nn.functional as F

from mmbnn.ops import BinaryConv
from mmbnn.surge import SURGECompensator, strip_compensators

GEOMETRIES = [
    dict(stride=1, padding=1),
    dict(stride=2, padding=2, dilation=2, bias=True),
    dict(stride=1, padding=1, groups=2, act_threshold=True,
         act_surrogate='approx_sign'),
]


def _pair(eta=0.5, **kwargs):
    """A SURGE conv and the same conv without compensation."""
    torch.manual_seed(0)
    surge = BinaryConv(4, 6, 3, compensator=dict(type='SURGE', eta=eta,
                                                 **kwargs.pop('comp', {})),
                       **kwargs)
    plain = BinaryConv(4, 6, 3, **kwargs)
    plain.load_state_dict(surge.state_dict(), strict=False)
    if surge.threshold is not None:
        with torch.no_grad():
            surge.threshold.uniform_(-0.3, 0.3)
            plain.threshold.copy_(surge.threshold)
    return surge, plain


def _input_grads(surge, plain, x, upstream):
    """(SURGE input grad, g_b, g_a) with g_a from autograd on W_a."""
    xs = x.clone().requires_grad_(True)
    surge(xs).backward(upstream)
    xb = x.clone().requires_grad_(True)
    plain(xb).backward(upstream)
    xa = x.clone().requires_grad_(True)
    c = surge.compensator
    F.conv2d(xa, c.weight.detach(), None, c.stride, c.padding, c.dilation,
             c.groups).backward(upstream)
    return xs.grad, xb.grad, xa.grad


@pytest.mark.parametrize('geometry', GEOMETRIES)
def test_forward_is_bitwise_the_binary_output(geometry):
    surge, plain = _pair(**copy.deepcopy(geometry))
    x = torch.randn(2, 4, 9, 9, requires_grad=True)
    assert torch.equal(surge(x), plain(x))
    surge.eval(), plain.eval()
    assert torch.equal(surge(x), plain(x))


@pytest.mark.parametrize('geometry', GEOMETRIES)
def test_input_gradient_is_g_b_plus_lambda_g_a(geometry):
    surge, plain = _pair(eta=0.7, **copy.deepcopy(geometry))
    x = torch.randn(2, 4, 9, 9)
    upstream = torch.randn_like(plain(x))
    grad, g_b, g_a = _input_grads(surge, plain, x, upstream)
    lam = 0.7 * g_b.norm() / (g_a.norm() + 1e-8)
    torch.testing.assert_close(grad, g_b + lam * g_a)
    c = surge.compensator
    torch.testing.assert_close(c.last_lambda, lam)
    torch.testing.assert_close(c.grad_norm_binary, g_b.norm())
    torch.testing.assert_close(c.grad_norm_aux, g_a.norm())
    assert 0 < float(lam) < float('inf')


def test_aux_weight_gets_its_exact_unscaled_gradient():
    surge, _ = _pair()
    x = torch.randn(2, 4, 8, 8)
    w_a = surge.compensator.weight
    out = surge(x)
    upstream = torch.randn_like(out)
    out.backward(upstream)
    w = w_a.detach().clone().requires_grad_(True)
    F.conv2d(x, w).backward(upstream)
    torch.testing.assert_close(w_a.grad, w.grad)
    # the latent weight still receives only its STE gradient
    assert surge.weight.grad is not None


@pytest.mark.parametrize('geometry', GEOMETRIES)
def test_latent_aux_weight_tracks_the_layer(geometry):
    surge, plain = _pair(eta=0.6, comp=dict(aux_weight='latent'),
                         **copy.deepcopy(geometry))
    c = surge.compensator
    assert c.weight is None and 'compensator.weight' not in \
        surge.state_dict()
    for _ in range(2):  # the replica follows the latent weights as they move
        with torch.no_grad():
            surge.weight.add_(0.05 * torch.randn_like(surge.weight))
            plain.weight.copy_(surge.weight)
        x = torch.randn(2, 4, 9, 9)
        upstream = torch.randn_like(plain(x))
        surge.zero_grad(), plain.zero_grad()
        xs = x.clone().requires_grad_(True)
        surge(xs).backward(upstream)
        xb = x.clone().requires_grad_(True)
        plain(xb).backward(upstream)
        xa = x.clone().requires_grad_(True)
        F.conv2d(xa, surge.weight.detach(), None, c.stride, c.padding,
                 c.dilation, c.groups).backward(upstream)
        lam = 0.6 * xb.grad.norm() / (xa.grad.norm() + 1e-8)
        torch.testing.assert_close(xs.grad, xb.grad + lam * xa.grad)
        # the latent weights keep exactly their surrogate gradient
        torch.testing.assert_close(surge.weight.grad, plain.weight.grad)


def test_fixed_and_ema_lambda():
    surge, plain = _pair(comp=dict(lambda_mode='fixed', fixed_lambda=0.25))
    x = torch.randn(2, 4, 8, 8)
    upstream = torch.randn(2, 6, 6, 6)
    grad, g_b, g_a = _input_grads(surge, plain, x, upstream)
    torch.testing.assert_close(grad, g_b + 0.25 * g_a)

    surge, plain = _pair(eta=1.0, comp=dict(lambda_mode='ema',
                                            ema_momentum=0.8))
    lams = []
    for step in range(2):
        x = torch.randn(2, 4, 8, 8)
        grad, g_b, g_a = _input_grads(surge, plain, x, upstream)
        lams.append(g_b.norm() / (g_a.norm() + 1e-8))
        expected = lams[0] if step == 0 else 0.8 * lams[0] + 0.2 * lams[1]
        torch.testing.assert_close(grad, g_b + expected * g_a)


def test_zero_gradients_give_no_nan():
    surge, _ = _pair()
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    surge(x).backward(torch.zeros(2, 6, 6, 6))
    assert torch.isfinite(x.grad).all() and float(
        surge.compensator.last_lambda) == 0.0
    # a zero auxiliary branch: lambda is finite and the gradient is g_b
    surge, plain = _pair()
    surge.compensator.copy_latent_weight(surge.weight)
    with torch.no_grad():
        surge.compensator.weight.zero_()
    xs = torch.randn(2, 4, 8, 8)
    upstream = torch.randn(2, 6, 6, 6)
    grad, g_b, _ = _input_grads(surge, plain, xs, upstream)
    assert torch.isfinite(surge.compensator.last_lambda)
    torch.testing.assert_close(grad, g_b)


def test_aux_init_copy_happens_once_and_survives_reload():
    surge, _ = _pair()
    c = surge.compensator
    assert not torch.equal(c.weight, surge.weight)
    surge(torch.randn(1, 4, 8, 8))
    assert torch.equal(c.weight, surge.weight)
    with torch.no_grad():
        c.weight.add_(1.0)  # training moved W_a
    state = surge.state_dict()
    fresh, _ = _pair()
    fresh.load_state_dict(state)
    fresh(torch.randn(1, 4, 8, 8))
    assert torch.equal(fresh.compensator.weight, state['compensator.weight'])

    kaiming = BinaryConv(4, 6, 3, compensator=dict(type='SURGE',
                                                   aux_init='kaiming'))
    kaiming(torch.randn(1, 4, 8, 8))
    assert not torch.equal(kaiming.compensator.weight, kaiming.weight)


def test_eval_skips_the_branch_and_strip_removes_it():
    surge, plain = _pair()
    surge.eval()
    surge(torch.randn(1, 4, 8, 8, requires_grad=True)).sum().backward()
    assert int(surge.compensator.num_updates) == 0
    assert strip_compensators(surge) == 1 and surge.compensator is None
    assert strip_compensators(surge) == 0


@pytest.mark.parametrize('bad,match', [
    (dict(lambda_mode='auto'), "lambda_mode='auto'.*'adaptive'"),
    (dict(aux_init='zeros'), "aux_init='zeros'.*'copy'"),
    (dict(aux_weight='shared'), "aux_weight='shared'.*'latent'"),
    (dict(ema_momentum=1.0), 'ema_momentum'),
])
def test_bad_options_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        BinaryConv(4, 4, 3, compensator=dict(type='SURGE', **bad))


def test_real_kept_conv_gets_no_compensator():
    conv = BinaryConv(4, 4, 1, keep_real='kernel_1x1',
                      compensator=dict(type='SURGE'))
    assert conv.compensator is None
    assert isinstance(
        BinaryConv(4, 4, 3, compensator=dict(type='SURGE')).compensator,
        SURGECompensator)
