# Copyright (c) mmbnn contributors. All rights reserved.
"""Sign binarizers with named surrogate gradients, and weight scaling.

Every binarizer computes ``sign(x)`` in the forward pass (with ``sign(0) =
+1`` so the output is always +-1) and replaces the zero-almost-everywhere
derivative of ``sign`` by a named surrogate in the backward pass:

=================  =========================================  ==============
name               surrogate d sign(x) / dx                    reference
=================  =========================================  ==============
``identity``       1                                           BinaryConnect
``clipped``        1 if |x| <= 1 else 0 (hardtanh)             BNN (Hubara)
``approx_sign``    2 - 2|x| if |x| <= 1 else 0                 Bi-Real Net
=================  =========================================  ==============
"""
from typing import Callable, Dict

import torch
from torch import Tensor

from ..utils import check_choice

SURROGATE_GRADIENTS: Dict[str, Callable[[Tensor], Tensor]] = {
    'identity': lambda x: torch.ones_like(x),
    'clipped': lambda x: (x.abs() <= 1).to(x.dtype),
    'approx_sign': lambda x: (2 - 2 * x.abs()).clamp_(min=0),
}

WEIGHT_SCALINGS = ('none', 'mean_abs', 'learnable')


def hard_sign(x: Tensor) -> Tensor:
    """``sign`` with ``sign(0) = +1``, so every output is exactly +-1."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


class _SignWithSurrogate(torch.autograd.Function):
    """Forward ``hard_sign(x)``; backward ``grad * surrogate(x)``.

    Saves only what the surrogate needs: nothing for ``identity``, a bool
    mask (1 byte per element) for ``clipped``, ``x`` for ``approx_sign``.
    """

    @staticmethod
    def forward(ctx, x: Tensor, surrogate: str) -> Tensor:
        ctx.surrogate = surrogate
        if surrogate == 'clipped':
            ctx.save_for_backward(x.abs() <= 1)
        elif surrogate != 'identity':
            ctx.save_for_backward(x)
        return hard_sign(x)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        if ctx.surrogate == 'identity':
            return grad_out, None
        saved, = ctx.saved_tensors
        if ctx.surrogate == 'clipped':
            return grad_out * saved, None
        return grad_out * SURROGATE_GRADIENTS[ctx.surrogate](saved), None


def sign_with_surrogate(x: Tensor, surrogate: str = 'clipped') -> Tensor:
    """Binarize ``x`` to +-1 with a named surrogate gradient.

    Args:
        x (Tensor): Real-valued input.
        surrogate (str): One of :data:`SURROGATE_GRADIENTS`.
            Defaults to ``'clipped'``.

    Returns:
        Tensor: ``hard_sign(x)``, differentiable through the surrogate.
    """
    check_choice('surrogate', surrogate, SURROGATE_GRADIENTS)
    return _SignWithSurrogate.apply(x, surrogate)
