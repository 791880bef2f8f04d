# Copyright (c) mmbnn contributors. All rights reserved.
"""SURGE's Dual-Path Gradient Compensator (DPGC) with the Adaptive Gradient
Scaler (AGS), for one binarized conv.

`SURGE: Surrogate Gradient Adaptation in Binary Neural Networks
<https://arxiv.org/abs/2605.10989>`_.

The layer output is decomposed as ``y = f_b(x) - f_a(x).detach() + f_a(x)``
where ``f_b`` is the binary conv and ``f_a(x) = conv(x, W_a)`` a
full-precision replica fed the real-valued input. The forward value is
exactly ``f_b(x)``; the gradient reaching ``x`` is ``g_b + lambda * g_a``
(``g_b``: the binary path's surrogate gradient, ``g_a``: the replica's exact
gradient), with ``lambda = eta * ||g_b|| / (||g_a|| + eps)`` per layer and
iteration.

Implementation: ``f_a(x) - f_a(x).detach()`` is identically zero in the
forward pass, so the replica's forward conv is never computed. A
``_Fork`` hands ``x`` to both paths and merges their input gradients in
backward; ``_AuxiliaryBranch`` passes the binary output through untouched and
computes, in backward only, the replica's input and weight gradients with one
``convolution_backward`` call. The replica costs two convolutions per step
instead of three and saves no tensor beyond ``x`` itself.
"""
from typing import Optional, Tuple

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn

from ..engine.optim_wrapper import mark_training_only
from ..utils import check_choice

LAMBDA_MODES = ('adaptive', 'fixed', 'ema')
AUX_INITS = ('copy', 'kaiming')
AUX_WEIGHTS = ('separate', 'latent')


class _Fork(torch.autograd.Function):
    """Identity to two consumers; backward merges ``g_b + lambda * g_a``."""

    @staticmethod
    def forward(ctx, x: Tensor, compensator: 'SURGECompensator'):
        ctx.compensator = compensator
        return x.view_as(x), x.view_as(x)

    @staticmethod
    def backward(ctx, grad_binary: Optional[Tensor],
                 grad_aux: Optional[Tensor]):
        if grad_aux is None:
            return grad_binary, None
        if grad_binary is None:
            grad_binary = torch.zeros_like(grad_aux)
        lam = ctx.compensator.update_lambda(grad_binary, grad_aux)
        return grad_binary + lam * grad_aux, None


class _AuxiliaryBranch(torch.autograd.Function):
    """Forward: the binary output, unchanged. Backward: the gradient passes
    to the binary output unchanged, and the full-precision replica
    ``conv(x, W_a)`` receives its exact input and weight gradients."""

    @staticmethod
    def forward(ctx, y_binary: Tensor, x: Tensor, weight: Tensor,
                compensator: 'SURGECompensator'):
        ctx.save_for_backward(x, weight)
        ctx.compensator = compensator
        return y_binary.view_as(y_binary)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight = ctx.saved_tensors
        c = ctx.compensator
        dtype = grad_out.dtype  # autocast may run the binary path in fp16
        grad_x, grad_w, _ = torch.ops.aten.convolution_backward(
            grad_out, x.to(dtype), weight.to(dtype), None, c.stride,
            c.padding, c.dilation, False, [0, 0], c.groups,
            [ctx.needs_input_grad[1], ctx.needs_input_grad[2], False])
        if grad_x is not None:
            grad_x = grad_x.to(x.dtype)
        if grad_w is not None:
            grad_w = grad_w.to(weight.dtype)
            if c.scale_aux_grad:
                grad_w = grad_w * c.last_lambda
        return grad_out, grad_x, grad_w, None


@MODELS.register_module('SURGE')
class SURGECompensator(nn.Module):
    """The auxiliary full-precision branch of one binarized conv (DPGC) and
    its Adaptive Gradient Scaler (AGS).

    Built by :class:`~mmbnn.ops.BinaryConv` from
    ``conv_cfg=dict(type='BinaryConv', compensator=dict(type='SURGE', ...))``.
    Active only in training mode with autograd enabled; in evaluation it is
    skipped and it can be removed (see :func:`strip_compensators`) without
    changing any prediction.

    Args:
        weight_shape (tuple): Shape of the conv weight (``W_a`` has it too).
        stride, padding, dilation (tuple[int, int]), groups (int): The conv's
            geometry, applied to the replica as well.
        eta (float): AGS coefficient; :class:`~mmbnn.surge.SURGEHook` may
            schedule it. Defaults to 1.0.
        lambda_mode (str): ``'adaptive'`` (AGS, lambda recomputed every
            iteration), ``'fixed'`` (lambda = ``fixed_lambda``, the ablation)
            or ``'ema'`` (exponential moving average of the AGS lambda).
            Defaults to ``'adaptive'``.
        fixed_lambda (float): Lambda of ``'fixed'`` mode. Defaults to 1.0.
        ema_momentum (float): Weight of the old value in ``'ema'`` mode.
            Defaults to 0.9.
        eps (float): AGS epsilon. Defaults to 1e-8.
        aux_init (str): ``'copy'``: ``W_a`` is set to the conv's latent
            weights at the first training step (after ``init_weights`` and
            any pretrained load); ``'kaiming'``: independent Kaiming-uniform
            init at build. Defaults to ``'copy'``.
        scale_aux_grad (bool): Multiply ``W_a``'s gradient by lambda. Lambda
            of the current step is computed after ``W_a``'s gradient (it
            needs both branches' input gradients), so the previous step's
            lambda is used. Defaults to False: ``W_a`` follows its own
            gradient.
        aux_weight (str): ``'separate'``: ``W_a`` is a parameter of its own
            (initialised by ``aux_init``, trained by its exact gradient);
            ``'latent'``: the replica convolves with the conv's current
            latent weights, detached, so it always tracks the layer, adds no
            parameter and computes no weight gradient (the latent weights
            keep their surrogate gradient only; ``aux_init`` and
            ``scale_aux_grad`` do not apply). Defaults to ``'separate'``.
    """

    def __init__(self,
                 weight_shape: Tuple[int, ...],
                 stride: Tuple[int, int],
                 padding: Tuple[int, int],
                 dilation: Tuple[int, int],
                 groups: int,
                 eta: float = 1.0,
                 lambda_mode: str = 'adaptive',
                 fixed_lambda: float = 1.0,
                 ema_momentum: float = 0.9,
                 eps: float = 1e-8,
                 aux_init: str = 'copy',
                 scale_aux_grad: bool = False,
                 aux_weight: str = 'separate') -> None:
        super().__init__()
        self.lambda_mode = check_choice('lambda_mode', lambda_mode,
                                        LAMBDA_MODES)
        self.aux_init = check_choice('aux_init', aux_init, AUX_INITS)
        self.aux_weight = check_choice('aux_weight', aux_weight, AUX_WEIGHTS)
        if not 0.0 <= ema_momentum < 1.0:
            raise ValueError(
                f'ema_momentum must be in [0, 1), got {ema_momentum}')
        if isinstance(padding, str):
            raise ValueError(f"SURGE needs numeric padding, got "
                             f"padding={padding!r}")
        self.stride, self.padding = tuple(stride), tuple(padding)
        self.dilation, self.groups = tuple(dilation), groups
        self.fixed_lambda = float(fixed_lambda)
        self.ema_momentum = float(ema_momentum)
        self.eps = float(eps)
        self.scale_aux_grad = scale_aux_grad
        self.weight: Optional[nn.Parameter] = None
        if aux_weight == 'separate':
            # clipped apart from the shared parameters by
            # SeparateClipOptimWrapper
            self.weight = mark_training_only(
                nn.Parameter(torch.zeros(weight_shape)))
            if aux_init == 'kaiming':
                # a private generator: building SURGE consumes no global
                # random numbers, so seed k gives the model the same initial
                # weights (and batches) as under STE
                bound = (6 / ((1 + 5) * self.weight[0].numel()))**0.5
                gen = torch.Generator().manual_seed(torch.initial_seed())
                with torch.no_grad():
                    self.weight.uniform_(-bound, bound, generator=gen)
        # State saved in checkpoints, so a resumed run continues with it.
        self.register_buffer('eta', torch.tensor(float(eta)))
        self.register_buffer('last_lambda', torch.tensor(0.0))
        self.register_buffer('grad_norm_binary', torch.tensor(0.0))
        self.register_buffer('grad_norm_aux', torch.tensor(0.0))
        self.register_buffer('num_updates', torch.tensor(0))
        self.register_buffer(
            'aux_initialized',
            torch.tensor(aux_init != 'copy' or aux_weight == 'latent'))
        self._aux_ready = False

    def compensate(self, x: Tensor, binary_forward,
                   latent_weight: Tensor) -> Tensor:
        """Run ``binary_forward`` on ``x`` with the compensated gradient.

        Args:
            x (Tensor): The conv's real-valued input.
            binary_forward (Callable[[Tensor], Tensor]): The binary path
                (binarize input and weight, convolve).
            latent_weight (Tensor): The conv's latent (real) weights: the
                source of ``aux_init='copy'`` and, with
                ``aux_weight='latent'``, the replica's weights.

        Returns:
            Tensor: ``binary_forward(x)``, bit for bit.
        """
        if self.aux_weight == 'latent':
            weight = latent_weight.detach()
        else:
            if self.aux_init == 'copy':
                self.copy_latent_weight(latent_weight)
            weight = self.weight
        x_binary, x_aux = _Fork.apply(x, self)
        y = binary_forward(x_binary)
        return _AuxiliaryBranch.apply(y, x_aux, weight, self)

    @torch.no_grad()
    def copy_latent_weight(self, weight: Tensor) -> None:
        """Apply ``aux_init='copy'`` once: at the first training step, or
        never if a checkpoint says it already happened."""
        if self._aux_ready:  # python flag: no device sync per forward
            return
        if not bool(self.aux_initialized):
            self.weight.copy_(weight)
            self.aux_initialized.fill_(True)
        self._aux_ready = True

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._aux_ready = False  # re-read aux_initialized from the load

    @torch.no_grad()
    def update_lambda(self, grad_binary: Tensor, grad_aux: Tensor) -> Tensor:
        """AGS: compute and record this iteration's lambda.

        Returns:
            Tensor: The scalar lambda that multiplies ``grad_aux``.
        """
        norm_b = grad_binary.float().norm()
        norm_a = grad_aux.float().norm()
        adaptive = self.eta * norm_b / (norm_a + self.eps)
        if self.lambda_mode == 'fixed':
            lam = torch.full_like(norm_b, self.fixed_lambda)
        elif self.lambda_mode == 'ema':
            m = self.ema_momentum
            # the first update starts the average (no host sync on GPU)
            lam = torch.where(self.num_updates > 0,
                              m * self.last_lambda + (1 - m) * adaptive,
                              adaptive)
        else:
            lam = adaptive
        self.last_lambda.copy_(lam)
        self.grad_norm_binary.copy_(norm_b)
        self.grad_norm_aux.copy_(norm_a)
        self.num_updates += 1
        return lam.to(grad_aux.dtype)

    def extra_repr(self) -> str:
        return (f'lambda_mode={self.lambda_mode}, eta={float(self.eta):g}, '
                f'aux_weight={self.aux_weight}, aux_init={self.aux_init}')


def strip_compensators(model: nn.Module) -> int:
    """Remove every SURGE branch in place (for inference or export).

    Returns:
        int: How many were removed.
    """
    count = 0
    for module in model.modules():
        if isinstance(getattr(module, 'compensator', None),
                      SURGECompensator):
            module.compensator = None
            count += 1
    return count
