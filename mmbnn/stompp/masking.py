# Copyright (c) mmbnn contributors. All rights reserved.
"""StoMPP's binarization rule for the tensors of one conv.

Each binarized tensor ``u`` becomes ``M * sign(u) + (1 - M) * clip(u, -1,
1)``; ``M`` marks the frozen entries.

- Weights: a persistent score ``s ~ U(0, 1)`` per entry; frozen iff
  ``s < p_w``. Soft refresh redraws a random ``1 / refresh_rate`` of the
  scores every iteration, so the frozen set is not fixed prematurely.
- Activations: a fresh Bernoulli(``p_a``) mask per forward, per element or
  per channel. Evaluation is deterministic: ``eval_act`` chooses the
  expectation ``p_a * sign(u) + (1 - p_a) * clip(u)`` (default), ``sign`` or
  ``clip``.
- Backward: STE-free by default (frozen entries get zero gradient, unfrozen
  ones clip's derivative ``1{|u| <= 1}``); ``ste_on_frozen='<surrogate>'``
  gives frozen entries that surrogate's gradient instead.

Randomness is counter-based: the masks of iteration ``t`` come from a
generator seeded with ``(seed, layer index, t)``, so a resumed run draws the
same masks as an uninterrupted one without saving generator state, and every
rank draws the same weight masks. The initial scores are drawn by the hook
from ``(seed, layer index)`` at the start of training (:meth:`StoMPPMasking.
seed_scores`), never from the global random state: building a StoMPP model
consumes no global random numbers, so with the same seed it starts from the
same initial weights, and sees the same batches, as the STE or SURGE model
it is compared with.
"""
from typing import List, Optional

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn

from ..ops.binarizers import SURROGATE_GRADIENTS, hard_sign
from ..utils import check_choice

ACT_MASKS = ('element', 'channel')
EVAL_ACTS = ('expected', 'sign', 'clip')
WEIGHT_GRADS = ('clip', 'identity')
WEIGHT_INPUTS = ('latent', 'normalized')


class _MaskedBinarize(torch.autograd.Function):
    """``where(M, sign(u), clip(u))`` with StoMPP's backward: unfrozen
    entries get clip's derivative (or 1 with ``straight_clip``), frozen ones
    zero or the ``ste_on_frozen`` surrogate."""

    @staticmethod
    def forward(ctx, u: Tensor, mask: Tensor, ste_on_frozen: Optional[str],
                straight_clip: bool = False) -> Tensor:
        ctx.save_for_backward(u, mask)
        ctx.ste_on_frozen = ste_on_frozen
        ctx.straight_clip = straight_clip
        return torch.where(mask, hard_sign(u), u.clamp(-1, 1))

    @staticmethod
    def backward(ctx, grad: Tensor):
        u, mask = ctx.saved_tensors
        if ctx.straight_clip:
            unfrozen = torch.ones_like(grad)
        else:
            unfrozen = (u.abs() <= 1).to(grad.dtype)
        if ctx.ste_on_frozen is None:
            local = torch.where(mask, torch.zeros_like(unfrozen), unfrozen)
        else:
            local = torch.where(mask,
                                SURROGATE_GRADIENTS[ctx.ste_on_frozen](u),
                                unfrozen)
        return grad * local, None, None, None


def _seed(*parts: int) -> int:
    """A 63-bit seed mixing integers (stable across processes)."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFFFFFF)) * 1099511628211) % (1 << 63)
    return h


def _last_write_wins(index: Tensor, values: Tensor):
    """Make ``flat[index] = values`` deterministic with repeated indices.

    A CUDA index assignment writes repeated indices in no fixed order. Every
    write of an index here carries the value of its last occurrence in
    ``index`` (what a sequential assignment keeps), so any order gives the
    same result, on every device, with no host synchronisation.
    """
    index, order = torch.sort(index, stable=True)
    values = values[order]
    n = index.numel()
    position = torch.arange(n, device=index.device)
    run_end = torch.ones_like(index, dtype=torch.bool)
    run_end[:-1] = index[1:] != index[:-1]
    last = torch.where(run_end, position, n)
    # each element: the first run end at or after it (reverse cumulative min)
    last = last.flip(0).cummin(0).values.flip(0)
    return index, values[last]


@MODELS.register_module('StoMPP')
class StoMPPMasking(nn.Module):
    """The progressive masks of one binarized conv's weight and input.

    Built by :class:`~mmbnn.ops.BinaryConv` from
    ``conv_cfg=dict(type='BinaryConv', progressive=dict(type='StoMPP'))``;
    :class:`~mmbnn.stompp.StoMPPHook` writes the frozen fractions and the
    iteration before every training step.

    Args:
        weight_shape (tuple): Shape of the conv weight.
        refresh_rate (int): Soft refresh redraws ``1 / refresh_rate`` of the
            weight scores per iteration; 0 disables it. Defaults to 100.
        act_mask (str): ``'element'`` or ``'channel'`` Bernoulli masks of the
            activations. Defaults to ``'element'``.
        ste_on_frozen (str, optional): Surrogate gradient of frozen entries
            (``'identity'``, ``'clipped'``, ``'approx_sign'``), or None for
            the STE-free regime. Defaults to None.
        eval_act (str): Activations in evaluation mode for a partially
            frozen layer: ``'expected'``, ``'sign'`` or ``'clip'``.
            Defaults to ``'expected'``.
        weight_grad (str): Gradient of the weight entries. ``'clip'``: the
            literal rule (clip's derivative ``1{|u| <= 1}`` for continuous
            entries, ``ste_on_frozen``'s surrogate for frozen ones).
            ``'identity'``: continuous entries pass the gradient straight
            through the clip, and frozen ones get the identity STE when
            ``ste_on_frozen`` is set (zero when it is None). The weights
            are binarized as ``W / mean|W|`` (see
            :meth:`~mmbnn.ops.BinaryConv.binary_weight`), so about 42% of
            Gaussian weights lie beyond +-1, where ``'clip'`` never updates
            them again; ``'identity'`` keeps them learning, like the latent
            weights of the plain STE. Defaults to ``'clip'``.
        weight_input (str): What the rule binarizes. ``'latent'``: the
            latent weights ``W`` themselves, ``M * sign(W) + (1 - M) *
            clip(W, -1, 1)`` (the papers' form, where almost no entry of a
            standard initialization saturates), then times the conv's
            weight scale if it has one. ``'normalized'``: ``W / mean|W|``
            per output channel (continuous and binary entries on one scale,
            but about 42% of Gaussian entries beyond +-1), then times the
            scale. With ``weight_scaling='none'`` both are ``W``.
            Defaults to ``'latent'``.
    """

    def __init__(self,
                 weight_shape: tuple,
                 refresh_rate: int = 100,
                 act_mask: str = 'element',
                 ste_on_frozen: Optional[str] = None,
                 eval_act: str = 'expected',
                 weight_grad: str = 'clip',
                 weight_input: str = 'latent') -> None:
        super().__init__()
        if refresh_rate < 0:
            raise ValueError(
                f'refresh_rate must be >= 0, got refresh_rate={refresh_rate}')
        self.refresh_rate = int(refresh_rate)
        self.act_mask = check_choice('act_mask', act_mask, ACT_MASKS)
        if ste_on_frozen is not None:
            check_choice('ste_on_frozen', ste_on_frozen, SURROGATE_GRADIENTS)
        self.ste_on_frozen = ste_on_frozen
        self.eval_act = check_choice('eval_act', eval_act, EVAL_ACTS)
        self.weight_grad = check_choice('weight_grad', weight_grad,
                                        WEIGHT_GRADS)
        self.weight_input = check_choice('weight_input', weight_input,
                                         WEIGHT_INPUTS)
        # p = 1 until a StoMPPHook says otherwise: a model built for
        # inference, without the hook, is the hard-binary network.
        self.register_buffer('p_weight', torch.tensor(1.0))
        self.register_buffer('p_act', torch.tensor(1.0))
        # drawn from (seed, layer index) by seed_scores() when training
        # starts; a private generator here keeps the global state untouched
        self.register_buffer(
            'scores', torch.rand(weight_shape,
                                 generator=torch.Generator().manual_seed(0)))
        self.register_buffer('scores_seeded', torch.tensor(False))
        # set by the hook each iteration (derived from runner.iter)
        self.layer_index, self.step, self.seed = 0, 0, 0
        self.rank = 0
        self._calls = 0

    def set_state(self, step: int, p_weight: float, p_act: float, seed: int,
                  layer_index: int, rank: int = 0) -> None:
        """Position this layer at iteration ``step`` (called by the hook)."""
        self.step, self.seed, self.layer_index = step, seed, layer_index
        self.rank, self._calls = rank, 0
        self.p_weight.fill_(p_weight)
        self.p_act.fill_(p_act)

    def _load_from_state_dict(self, state_dict, prefix, *args,
                              **kwargs) -> None:
        # a checkpoint without ``scores_seeded`` holds scores that are
        # already the run's own: keep them
        flag = prefix + 'scores_seeded'
        if prefix + 'scores' in state_dict and flag not in state_dict:
            state_dict[flag] = torch.tensor(True)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def seed_scores(self, seed: int, layer_index: int) -> bool:
        """Draw the initial weight scores from ``(seed, layer_index)``,
        once: a layer whose (checkpointed) scores were already seeded keeps
        them, so a resumed run continues with its own.

        Returns:
            bool: Whether the scores were drawn now.
        """
        if bool(self.scores_seeded):
            return False
        gen = torch.Generator(device=self.scores.device)
        gen.manual_seed(_seed(seed, layer_index, -1))
        self.scores.copy_(torch.rand(self.scores.shape, generator=gen,
                                     device=self.scores.device))
        self.scores_seeded.fill_(True)
        return True

    def _generator(self, device, *extra: int) -> torch.Generator:
        gen = torch.Generator(device=device)
        gen.manual_seed(_seed(self.seed, self.layer_index, self.step, *extra))
        return gen

    @torch.no_grad()
    def refresh(self) -> None:
        """Soft refresh: redraw ``n / refresh_rate`` randomly picked weight
        scores (picked with replacement, so slightly fewer distinct ones)."""
        if self.refresh_rate == 0:
            return
        gen = self._generator(self.scores.device, 0)
        flat = self.scores.view(-1)
        count = max(1, round(flat.numel() / self.refresh_rate))
        index = torch.randint(flat.numel(), (count, ), generator=gen,
                              device=flat.device)
        values = torch.rand(count, generator=gen, device=flat.device)
        index, values = _last_write_wins(index, values)
        flat[index] = values

    def weight_mask(self) -> Tensor:
        """Frozen weight entries: ``scores < p_weight``."""
        return self.scores < self.p_weight

    def frozen_weight_fraction(self) -> float:
        return float(self.weight_mask().float().mean())

    def unfinished_reasons(self, weight: bool = True,
                           act: bool = True) -> List[str]:
        """Why this rule is not hard binary yet (empty when it is).

        Args:
            weight (bool): Whether the layer binarizes its weights.
            act (bool): Whether it binarizes its activations.

        Returns:
            list[str]: A weight frozen fraction below 1, an activation
            fraction below 1, an evaluation rule that is not ``sign``.
        """
        reasons = []
        if weight and not bool(self.weight_mask().all()):
            reasons.append('weight frozen fraction '
                           f'{self.frozen_weight_fraction():.3f} < 1')
        if act:
            if float(self.p_act) < 1:
                reasons.append(f'activation fraction {float(self.p_act):.3f}'
                               ' < 1')
            if self.eval_act == 'clip':
                reasons.append("eval_act='clip' is not binary")
        return reasons

    def binarize_weight(self, weight: Tensor) -> Tensor:
        if self.weight_grad == 'identity':
            ste = None if self.ste_on_frozen is None else 'identity'
            return _MaskedBinarize.apply(weight, self.weight_mask(), ste,
                                         True)
        return _MaskedBinarize.apply(weight, self.weight_mask(),
                                     self.ste_on_frozen)

    def binarize_act(self, x: Tensor) -> Tensor:
        if not self.training:
            if self.eval_act == 'sign':
                return hard_sign(x)
            if self.eval_act == 'clip':
                return x.clamp(-1, 1)
            p = self.p_act.to(x.dtype)
            return p * hard_sign(x) + (1 - p) * x.clamp(-1, 1)
        self._calls += 1
        gen = self._generator(x.device, 1, self.rank, self._calls)
        shape = x.shape if self.act_mask == 'element' else x.shape[:2] + (
            1, ) * (x.dim() - 2)
        mask = torch.rand(shape, generator=gen, device=x.device,
                          dtype=torch.float32) < self.p_act
        return _MaskedBinarize.apply(x, mask.expand_as(x),
                                     self.ste_on_frozen)

    def extra_repr(self) -> str:
        return (f'refresh_rate={self.refresh_rate}, act_mask={self.act_mask}'
                f', ste_on_frozen={self.ste_on_frozen}, '
                f'eval_act={self.eval_act}, weight_grad={self.weight_grad}, '
                f'weight_input={self.weight_input}')
