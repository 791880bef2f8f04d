# Copyright (c) mmbnn contributors. All rights reserved.
"""``BinaryConv``: a 1-bit ``nn.Conv2d`` usable through mmcv's ``conv_cfg``."""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn

from ..utils import check_choice
from .binarizers import (SURROGATE_GRADIENTS, WEIGHT_SCALINGS,
                         sign_with_surrogate)

# Rules that leave a conv real-valued even when its config says BinaryConv.
KEEP_REAL_RULES = {
    'kernel_1x1': lambda conv: conv.kernel_size == (1, 1),
    'rgb_input': lambda conv: conv.in_channels <= 3,
}

_IntPair = Union[int, Tuple[int, int]]


@MODELS.register_module('BinaryConv')
class BinaryConv(nn.Conv2d):
    """Conv layer with 1-bit weights and 1-bit input activations.

    The forward pass is ``conv(sign(x - b), alpha * sign(W)) + bias`` computed
    with ``nn.Conv2d``'s own stride, padding, dilation, groups, bias and
    padding mode. ``sign`` maps to exactly +-1 (``sign(0) = +1``); zero
    padding is applied to the binarized input, so border taps see 0. The
    gradient of ``sign`` is replaced by a named surrogate (see
    :mod:`mmbnn.ops.binarizers`).

    Registered in MMEngine's root ``MODELS`` (where mmcv keeps ``ConvWS``), so
    ``conv_cfg=dict(type='BinaryConv', ...)`` works in mmdet's ResNet, FPN and
    SSDNeck under any default scope.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation,
            groups, bias, padding_mode: As in ``nn.Conv2d``.
        binarize_weight (bool): Binarize the weights. Defaults to True.
        binarize_act (bool): Binarize the input activations. Defaults to True.
        weight_surrogate (str): Surrogate gradient of the weight sign, one of
            ``'identity'``, ``'clipped'``, ``'approx_sign'``.
            Defaults to ``'clipped'``.
        act_surrogate (str): Surrogate gradient of the activation sign.
            Defaults to ``'clipped'``.
        weight_scaling (str): ``'none'`` (alpha = 1), ``'mean_abs'``
            (per-output-channel mean |W| recomputed every forward, as in
            XNOR-Net; no gradient flows through alpha) or ``'learnable'``
            (a per-output-channel parameter initialised to mean |W| at
            build time). Defaults to ``'mean_abs'``.
        act_threshold (bool): Learn a per-input-channel threshold ``b``
            (ReActNet's RSign), initialised to 0. Defaults to False.
        keep_real (Sequence[str]): Rules under which this conv stays
            real-valued (a plain ``nn.Conv2d``): ``'kernel_1x1'`` and/or
            ``'rgb_input'`` (``in_channels <= 3``). Defaults to ().
        compensator (dict, optional): A gradient compensator for the binary
            path, built from the registry with the conv's geometry, e.g.
            ``dict(type='SURGE', eta=1.0)`` (see
            :class:`~mmbnn.surge.SURGECompensator`). Ignored when the conv
            is kept real. Defaults to None.
        progressive (dict, optional): A progressive binarization rule that
            replaces ``sign`` on the binarized operands, e.g.
            ``dict(type='StoMPP')`` (see
            :class:`~mmbnn.stompp.StoMPPMasking`); the surrogates above then
            apply only through its ``ste_on_frozen``. Defaults to None.

    Non-finite inputs: ``sign`` maps NaN to a valid +-1, so a diverging
    network would keep training on garbage. While ``check_nonfinite`` is
    True (set by :class:`~mmbnn.engine.NonFiniteCheckHook`), a binarizing
    conv in training mode ORs "some input element is NaN or Inf" into its
    ``nonfinite`` buffer (a bool on the input's device, updated with tensor
    ops: no host synchronisation); the hook reads every layer's flag once
    per iteration. The buffer is not saved in checkpoints, and evaluation,
    export and deploy never touch it.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: _IntPair,
                 stride: _IntPair = 1,
                 padding: Union[str, _IntPair] = 0,
                 dilation: _IntPair = 1,
                 groups: int = 1,
                 bias: bool = True,
                 padding_mode: str = 'zeros',
                 device=None,
                 dtype=None,
                 *,
                 binarize_weight: bool = True,
                 binarize_act: bool = True,
                 weight_surrogate: str = 'clipped',
                 act_surrogate: str = 'clipped',
                 weight_scaling: str = 'mean_abs',
                 act_threshold: bool = False,
                 keep_real: Sequence[str] = (),
                 compensator: Optional[dict] = None,
                 progressive: Optional[dict] = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride,
                         padding, dilation, groups, bias, padding_mode,
                         device, dtype)
        self.weight_surrogate = check_choice('weight_surrogate',
                                             weight_surrogate,
                                             SURROGATE_GRADIENTS)
        self.act_surrogate = check_choice('act_surrogate', act_surrogate,
                                          SURROGATE_GRADIENTS)
        self.weight_scaling = check_choice('weight_scaling', weight_scaling,
                                           WEIGHT_SCALINGS)
        if isinstance(keep_real, str):
            keep_real = (keep_real, )
        self.keep_real = tuple(
            check_choice('keep_real', rule, KEEP_REAL_RULES)
            for rule in keep_real)
        kept_real = any(KEEP_REAL_RULES[rule](self) for rule in self.keep_real)
        self.binarize_weight = binarize_weight and not kept_real
        self.binarize_act = binarize_act and not kept_real

        self.scale: Optional[nn.Parameter] = None
        if self.binarize_weight and weight_scaling == 'learnable':
            self.scale = nn.Parameter(self._mean_abs_weight().detach().clone())
        self.threshold: Optional[nn.Parameter] = None
        if self.binarize_act and act_threshold:
            self.threshold = nn.Parameter(
                torch.zeros(1, in_channels, 1, 1, device=device, dtype=dtype))
        self.progressive: Optional[nn.Module] = None
        if progressive is not None and self.is_binary:
            self.progressive = MODELS.build(
                progressive,
                default_args=dict(weight_shape=tuple(self.weight.shape)))
        self.compensator: Optional[nn.Module] = None
        if compensator is not None and self.is_binary:
            self.compensator = MODELS.build(
                compensator,
                default_args=dict(
                    weight_shape=tuple(self.weight.shape),
                    stride=self.stride, padding=self.padding,
                    dilation=self.dilation, groups=self.groups))
        self.check_nonfinite = False
        self.register_buffer(
            'nonfinite', torch.zeros((), dtype=torch.bool, device=device),
            persistent=False)

    # children that exist only for training (SURGE branch, StoMPP state):
    # dropped by the deploy conversion, reported apart by the complexity tool
    TRAINING_ONLY_CHILDREN = ('compensator', 'progressive')

    @property
    def is_binary(self) -> bool:
        """Whether any operand of this conv is binarized."""
        return self.binarize_weight or self.binarize_act

    def _mean_abs_weight(self) -> Tensor:
        return self.weight.abs().mean(dim=(1, 2, 3), keepdim=True)

    def weight_scale(self) -> Optional[Tensor]:
        """The per-output-channel scale ``alpha`` of ``alpha * sign(W)``,
        ``(O, 1, 1, 1)``, as the forward pass applies it: ``mean|W|``
        (detached; clamped to >= 1e-12 under a progressive rule, which
        divides by it) for ``'mean_abs'``, the learned ``scale`` for
        ``'learnable'``, None for ``'none'``. The one definition the forward
        pass and the deploy conversion share."""
        if self.weight_scaling == 'mean_abs':
            scale = self._mean_abs_weight().detach()
            return scale.clamp_min(1e-12) if self.progressive is not None \
                else scale
        if self.weight_scaling == 'learnable':
            return self.scale
        return None

    def binary_weight(self) -> Tensor:
        """The weight used in the forward pass: ``alpha * sign(W)`` (or W).

        With a progressive rule, the rule acts on the latent weights ``W``
        (``weight_input='latent'``, the papers' form) or on ``W / mean|W|``
        (``'normalized'``: per output channel, no gradient through the
        normaliser, so its continuous entries ``clip(W / mean|W|)`` live on
        the same scale as its binary ones; Kaiming-initialised weights are
        ~30x smaller than +-1), then the scale (if any) applies.
        """
        if not self.binarize_weight:
            return self.weight
        if self.progressive is not None:
            weight = self.weight
            if self.progressive.weight_input == 'normalized':
                norm = self._mean_abs_weight().detach().clamp_min(1e-12)
                weight = weight / norm
            weight = self.progressive.binarize_weight(weight)
        else:
            weight = sign_with_surrogate(self.weight, self.weight_surrogate)
        scale = self.weight_scale()
        return weight if scale is None else weight * scale

    def binary_input(self, x: Tensor) -> Tensor:
        """The input used in the forward pass: ``sign(x - b)`` (or x)."""
        if not self.binarize_act:
            return x
        if self.threshold is not None:
            x = x - self.threshold
        if self.progressive is not None:
            return self.progressive.binarize_act(x)
        return sign_with_surrogate(x, self.act_surrogate)

    def binary_forward(self, x: Tensor) -> Tensor:
        """The conv on binarized operands (or real ones if kept real)."""
        return self._conv_forward(
            self.binary_input(x), self.binary_weight(), self.bias)

    @torch.no_grad()
    def record_nonfinite(self, x: Tensor) -> None:
        """OR "``x`` holds a NaN or an Inf" into ``nonfinite`` (on the
        device, no synchronisation). Its min and max say it: NaN propagates
        into both, and an Inf is one of them (one reduction pass, no
        tensor of ``x``'s size)."""
        if x.numel() == 0:
            return
        low, high = torch.aminmax(x)
        self.nonfinite.logical_or_(
            ~(torch.isfinite(low) & torch.isfinite(high)))

    def forward(self, x: Tensor) -> Tensor:
        if self.check_nonfinite and self.training and self.is_binary:
            self.record_nonfinite(x)
        if (self.compensator is not None and self.training
                and torch.is_grad_enabled()):
            return self.compensator.compensate(x, self.binary_forward,
                                               self.weight)
        return self.binary_forward(x)

    def extra_repr(self) -> str:
        if not self.is_binary:
            return super().extra_repr() + ', real-valued (keep_real=' + \
                f'{self.keep_real})'
        parts = [super().extra_repr()]
        if self.progressive is not None:
            return ', '.join(parts + [
                f'progressive weight*{self.weight_scaling}'
                if self.binarize_weight else 'real weight',
                'progressive act' if self.binarize_act else 'real act'
            ])
        if self.binarize_weight:
            parts.append(f'weight=sign[{self.weight_surrogate}]'
                         f'*{self.weight_scaling}')
        if self.binarize_act:
            threshold = '-threshold' if self.threshold is not None else ''
            parts.append(f'act=sign[{self.act_surrogate}]{threshold}')
        return ', '.join(parts)
