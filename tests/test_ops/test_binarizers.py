# Copyright (c) mmbnn contributors. All rights reserved.
import pytest
import torch

from mmbnn.ops import SURROGATE_GRADIENTS, hard_sign, sign_with_surrogate


def _proxies():
    """The differentiable functions whose derivatives the surrogates are."""

    def approx_sign(x):
        return torch.where(
            x < -1, -torch.ones_like(x),
            torch.where(x < 0, 2 * x + x * x,
                        torch.where(x < 1, 2 * x - x * x,
                                    torch.ones_like(x))))

    return {
        'identity': lambda x: x,
        'clipped': lambda x: x.clamp(-1, 1),
        'approx_sign': approx_sign,
    }


def test_forward_is_exactly_plus_minus_one():
    x = torch.tensor([-2.0, -1e-7, 0.0, 1e-7, 3.0])
    for name in SURROGATE_GRADIENTS:
        out = sign_with_surrogate(x, name)
        assert out.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    assert torch.equal(hard_sign(x), sign_with_surrogate(x))


@pytest.mark.parametrize('name', sorted(SURROGATE_GRADIENTS))
def test_surrogate_gradient_matches_finite_difference_of_proxy(name):
    # Points away from the proxies' kinks (|x| = 1 and, for approx_sign, 0).
    x = torch.linspace(-1.9, 1.9, 41, dtype=torch.float64)
    x = x[(x.abs() - 1).abs() > 1e-3]
    upstream = torch.randn_like(x)
    x.requires_grad_(True)
    sign_with_surrogate(x, name).backward(upstream)
    h = 1e-6
    proxy = _proxies()[name]
    with torch.no_grad():
        numeric = (proxy(x + h) - proxy(x - h)) / (2 * h)
    torch.testing.assert_close(x.grad, upstream * numeric, rtol=1e-5,
                               atol=1e-6)


def test_surrogate_formulas():
    x = torch.tensor([-1.5, -0.5, 0.0, 0.25, 1.0, 2.0], requires_grad=True)
    expected = {
        'identity': [1, 1, 1, 1, 1, 1],
        'clipped': [0, 1, 1, 1, 1, 0],
        'approx_sign': [0, 1, 2, 1.5, 0, 0],
    }
    for name, values in expected.items():
        x.grad = None
        sign_with_surrogate(x, name).sum().backward()
        assert x.grad.tolist() == values, name


def test_unknown_surrogate_names_allowed_values():
    with pytest.raises(ValueError) as err:
        sign_with_surrogate(torch.zeros(2), 'tanh')
    msg = str(err.value)
    assert "surrogate='tanh'" in msg
    for name in SURROGATE_GRADIENTS:
        assert repr(name) in msg
