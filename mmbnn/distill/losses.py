# Copyright (c) mmbnn contributors. All rights reserved.
"""Distillation losses from a full-precision teacher into a binary student.

- :class:`FeatureImitationLoss`: imitation of every FPN (or SSD neck) level
  through learnable 1x1 adapters, with separate foreground and background
  weights from the ground-truth boxes (the decoupled features of DeFeat,
  Guo et al., CVPR 2021; the 1-bit detector setting of IDa-Det, Xu et al.,
  ECCV 2022), MSE or the per-channel normalized variant of PKD (Cao et al.,
  NeurIPS 2022).
- :class:`ChannelWiseDivergenceLoss`: channel-wise distillation (CWD, Shu et
  al., ICCV 2021): every channel's spatial softmax at temperature ``tau``,
  KL divergence, scaled by ``tau**2``.
- :class:`LogitKDLoss`: classification-logit distillation (Hinton et al.,
  2015) at temperature ``tau``: the teacher's RoI head scores the student's
  sampled RoIs (two-stage), or the teacher's dense head scores the same
  anchors (single-stage/SSD).

Every loss returns ``loss_weight * weight_factor * value``; ``weight_factor``
(1 by default) is what :class:`~mmbnn.distill.DistillHook` schedules.
"""
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor, nn

from ..utils import check_choice

FEATURE_MODES = ('mse', 'normalized')


def gt_foreground_masks(gt_bboxes: Sequence[Tensor],
                        feat_size: Tuple[int, int],
                        input_size: Tuple[int, int]) -> Tensor:
    """Binary foreground masks of one feature level from ground-truth boxes.

    A box ``(x1, y1, x2, y2)`` in input pixels is scaled to the level by
    ``w / W`` and ``h / H`` (feature size over the padded input size) and
    covers the cells ``floor(x1 * w / W) <= j < ceil(x2 * w / W)`` (rows
    alike), so that every box with positive area marks at least one cell.

    Args:
        gt_bboxes (Sequence[Tensor]): Per image, ``(K, 4)`` boxes in
            ``(x1, y1, x2, y2)`` input pixels.
        feat_size (tuple[int, int]): ``(h, w)`` of the level.
        input_size (tuple[int, int]): ``(H, W)`` of the padded batch input.

    Returns:
        Tensor: ``(N, h, w)`` float masks, 1 on foreground cells.
    """
    height, width = feat_size
    scale_y = height / float(input_size[0])
    scale_x = width / float(input_size[1])
    device = gt_bboxes[0].device if len(gt_bboxes) else 'cpu'
    masks = torch.zeros(len(gt_bboxes), height, width, device=device)
    for index, boxes in enumerate(gt_bboxes):
        for x1, y1, x2, y2 in boxes.detach().float().cpu().tolist():
            left = min(max(math.floor(x1 * scale_x), 0), width)
            top = min(max(math.floor(y1 * scale_y), 0), height)
            right = min(max(math.ceil(x2 * scale_x), 0), width)
            bottom = min(max(math.ceil(y2 * scale_y), 0), height)
            masks[index, top:bottom, left:right] = 1
    return masks


class BaseDistillLoss(nn.Module):
    """Common state of the distillation losses.

    Args:
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    #: ``'feature'`` (FPN/neck levels) or ``'logit'`` (class scores)
    kind = 'feature'

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        if loss_weight < 0:
            raise ValueError(f'{self.key("loss_weight")} must be >= 0, got '
                             f'{loss_weight}')
        self.loss_weight = float(loss_weight)
        #: multiplier set by DistillHook (warm-up); 1 without the hook
        self.weight_factor = 1.0
        #: the name under ``model.distill_cfg``, set by the detector
        self.name = type(self).__name__

    def key(self, option: str) -> str:
        """The config key of ``option``, for error messages."""
        return f'model.distill_cfg.{getattr(self, "name", "?")}.{option}'

    @property
    def effective_weight(self) -> float:
        """``loss_weight * weight_factor``: the weight this step uses."""
        return self.loss_weight * self.weight_factor


def _per_level(value: Union[int, Sequence[int]], num_levels: int,
               key: str) -> List[int]:
    if isinstance(value, int):
        return [value] * num_levels
    value = [int(v) for v in value]
    if len(value) != num_levels:
        raise ValueError(f'{key} has {len(value)} entries but num_levels is '
                         f'{num_levels}')
    return value


class FeatureDistillLoss(BaseDistillLoss):
    """A loss on every feature level, with optional 1x1 adapters mapping the
    student's channels to the teacher's.

    Args:
        student_channels (int | Sequence[int]): Student channels per level
            (an int: the same on every level).
        teacher_channels (int | Sequence[int]): Teacher channels per level.
        num_levels (int, optional): Number of levels; needed when both
            channel options are ints, else the length of the lists.
        adapter (bool): A learnable 1x1 conv (with bias) per level from the
            student's to the teacher's channels. Without it the channels
            must be equal. Defaults to True.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 student_channels: Union[int, Sequence[int]],
                 teacher_channels: Union[int, Sequence[int]],
                 num_levels: Optional[int] = None,
                 adapter: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        if num_levels is None:
            lists = [len(c) for c in (student_channels, teacher_channels)
                     if not isinstance(c, int)]
            if not lists:
                raise ValueError(
                    'num_levels is needed when student_channels and '
                    'teacher_channels are both ints')
            num_levels = lists[0]
        self.num_levels = int(num_levels)
        self.student_channels = _per_level(student_channels, self.num_levels,
                                           'student_channels')
        self.teacher_channels = _per_level(teacher_channels, self.num_levels,
                                           'teacher_channels')
        if adapter:
            self.adapters = nn.ModuleList(
                nn.Conv2d(s, t, kernel_size=1)
                for s, t in zip(self.student_channels, self.teacher_channels))
        else:
            if self.student_channels != self.teacher_channels:
                raise ValueError(
                    'adapter=False needs equal channels, got '
                    f'student_channels={self.student_channels} and '
                    f'teacher_channels={self.teacher_channels}')
            self.adapters = None

    def check_levels(self, student_feats: Sequence[Tensor],
                     teacher_feats: Sequence[Tensor]) -> None:
        """Raise a ``ValueError`` naming the config key when the levels of
        the two models do not fit this loss."""
        if len(teacher_feats) != len(student_feats):
            raise ValueError(
                f'the teacher gives {len(teacher_feats)} feature levels and '
                f'the student {len(student_feats)}: model.teacher_cfg must '
                'build a neck with as many levels as the student\'s')
        if len(student_feats) != self.num_levels:
            raise ValueError(
                f'{self.key("num_levels")}: the loss is set up for '
                f'{self.num_levels} levels, the student gives '
                f'{len(student_feats)}')
        for level, (s, t) in enumerate(zip(student_feats, teacher_feats)):
            if s.shape[1] != self.student_channels[level]:
                raise ValueError(
                    f'{self.key("student_channels")}: level {level} has '
                    f'{s.shape[1]} student channels, configured '
                    f'{self.student_channels[level]}')
            if t.shape[1] != self.teacher_channels[level]:
                raise ValueError(
                    f'{self.key("teacher_channels")}: level {level} has '
                    f'{t.shape[1]} teacher channels, configured '
                    f'{self.teacher_channels[level]}')
            if s.shape[2:] != t.shape[2:]:
                raise ValueError(
                    f'level {level}: student features {tuple(s.shape[2:])} '
                    f'and teacher features {tuple(t.shape[2:])} differ in '
                    'size; model.teacher_cfg must use the student\'s strides')

    def adapt(self, level: int, feat: Tensor) -> Tensor:
        """The student's level ``level`` in the teacher's channels."""
        return feat if self.adapters is None else self.adapters[level](feat)

    def level_loss(self, student: Tensor, teacher: Tensor,
                   fg_mask: Optional[Tensor]) -> Tensor:
        """The unweighted loss of one level (adapted student features)."""
        raise NotImplementedError

    #: whether :meth:`level_loss` needs foreground masks
    needs_masks = False

    def forward(self,
                student_feats: Sequence[Tensor],
                teacher_feats: Sequence[Tensor],
                gt_bboxes: Optional[Sequence[Tensor]] = None,
                input_size: Optional[Tuple[int, int]] = None) -> Tensor:
        """The weighted mean over levels of :meth:`level_loss`.

        Args:
            student_feats (Sequence[Tensor]): Student levels ``(N, Cs, h,
                w)``.
            teacher_feats (Sequence[Tensor]): Teacher levels ``(N, Ct, h,
                w)``, without gradient.
            gt_bboxes (Sequence[Tensor], optional): Per image ``(K, 4)``
                ground-truth boxes in input pixels (the foreground masks).
            input_size (tuple[int, int], optional): ``(H, W)`` of the padded
                batch input (needed with ``gt_bboxes``).

        Returns:
            Tensor: The scalar loss.
        """
        self.check_levels(student_feats, teacher_feats)
        losses = []
        for level, (s, t) in enumerate(zip(student_feats, teacher_feats)):
            mask = None
            if self.needs_masks:
                if gt_bboxes is None or input_size is None:
                    raise ValueError(f'{type(self).__name__} needs gt_bboxes '
                                     'and input_size')
                mask = gt_foreground_masks(gt_bboxes, tuple(s.shape[2:]),
                                           input_size).to(s.dtype)
            losses.append(self.level_loss(self.adapt(level, s), t.detach(),
                                          mask))
        return self.effective_weight * torch.stack(losses).mean()


@MODELS.register_module()
class FeatureImitationLoss(FeatureDistillLoss):
    """Foreground/background-weighted feature imitation on every level.

    With ``A`` the level's 1x1 adapter, ``d[n, y, x] = mean_c (A(s) -
    t)[n, c, y, x]**2`` and ``M`` the ground-truth foreground mask of the
    level (:func:`gt_foreground_masks`), a level's loss is::

        fg_weight * sum(M * d) / max(sum(M), 1)
          + bg_weight * sum((1 - M) * d) / max(sum(1 - M), 1)

    i.e. the mean squared error over the foreground and over the background
    cells, weighted separately as in DeFeat (decoupled features, CVPR 2021).
    ``mode='normalized'`` first standardizes every channel of ``A(s)`` and
    of ``t`` over the cells of its image (zero mean, unit variance, as PKD,
    NeurIPS 2022), so the loss ignores the scale gap between binary and
    full-precision features. The loss is the mean over levels times
    ``loss_weight``.

    Args:
        student_channels, teacher_channels, num_levels, adapter: See
            :class:`FeatureDistillLoss`.
        fg_weight (float): Weight of the foreground term. Defaults to 1.0.
        bg_weight (float): Weight of the background term. Defaults to 0.5.
        mode (str): ``'mse'`` or ``'normalized'``. Defaults to ``'mse'``.
        eps (float): Standardization epsilon. Defaults to 1e-6.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    needs_masks = True

    def __init__(self,
                 student_channels: Union[int, Sequence[int]],
                 teacher_channels: Union[int, Sequence[int]],
                 num_levels: Optional[int] = None,
                 adapter: bool = True,
                 fg_weight: float = 1.0,
                 bg_weight: float = 0.5,
                 mode: str = 'mse',
                 eps: float = 1e-6,
                 loss_weight: float = 1.0) -> None:
        super().__init__(student_channels, teacher_channels, num_levels,
                         adapter, loss_weight)
        self.mode = check_choice('mode', mode, FEATURE_MODES)
        if fg_weight < 0 or bg_weight < 0:
            raise ValueError('fg_weight and bg_weight must be >= 0, got '
                             f'{fg_weight} and {bg_weight}')
        self.fg_weight, self.bg_weight = float(fg_weight), float(bg_weight)
        self.eps = eps

    def _standardize(self, feat: Tensor) -> Tensor:
        mean = feat.mean(dim=(2, 3), keepdim=True)
        std = feat.std(dim=(2, 3), keepdim=True, unbiased=False)
        return (feat - mean) / (std + self.eps)

    def level_loss(self, student: Tensor, teacher: Tensor,
                   fg_mask: Optional[Tensor]) -> Tensor:
        if self.mode == 'normalized':
            student, teacher = (self._standardize(student),
                                self._standardize(teacher))
        dist = (student - teacher).pow(2).mean(dim=1)
        bg_mask = 1 - fg_mask
        fg = (dist * fg_mask).sum() / fg_mask.sum().clamp(min=1)
        bg = (dist * bg_mask).sum() / bg_mask.sum().clamp(min=1)
        return self.fg_weight * fg + self.bg_weight * bg


@MODELS.register_module()
class ChannelWiseDivergenceLoss(FeatureDistillLoss):
    """Channel-wise distillation (CWD, Shu et al., ICCV 2021).

    Every channel of the (adapted) student level ``A(s)`` and of the teacher
    level ``t`` becomes a distribution over the ``h * w`` cells,
    ``softmax(x / tau)``; a level's loss is::

        tau**2 / (N * C) * sum_{n, c} KL(p_t[n, c] || p_s[n, c])

    and the loss is the mean over levels times ``loss_weight``.

    Args:
        student_channels, teacher_channels, num_levels, adapter: See
            :class:`FeatureDistillLoss`.
        tau (float): Temperature. Defaults to 1.0.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 student_channels: Union[int, Sequence[int]],
                 teacher_channels: Union[int, Sequence[int]],
                 num_levels: Optional[int] = None,
                 adapter: bool = True,
                 tau: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__(student_channels, teacher_channels, num_levels,
                         adapter, loss_weight)
        if tau <= 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        self.tau = float(tau)

    def level_loss(self, student: Tensor, teacher: Tensor,
                   fg_mask: Optional[Tensor]) -> Tensor:
        n, c = student.shape[:2]
        log_p_s = F.log_softmax(student.reshape(n * c, -1) / self.tau, dim=1)
        log_p_t = F.log_softmax(teacher.reshape(n * c, -1) / self.tau, dim=1)
        kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum()
        return kl * self.tau**2 / (n * c)


@MODELS.register_module()
class LogitKDLoss(BaseDistillLoss):
    """Knowledge distillation on classification logits (Hinton et al.,
    2015) at temperature ``tau``.

    For ``M`` rows of ``K`` class logits (RoIs of a two-stage detector,
    anchors of a dense head) the loss is::

        tau**2 / M * sum_m KL(softmax(t_m / tau) || softmax(s_m / tau))

    for softmax classifiers, and with ``sigmoid`` classifiers the binary
    KL summed over the ``K`` classes, ``sum_k q log(q / p) + (1 - q)
    log((1 - q) / (1 - p))`` with ``q = sigmoid(t / tau)``, ``p =
    sigmoid(s / tau)``; times ``loss_weight``.

    Args:
        tau (float): Temperature. Defaults to 1.0.
        activation (str): ``'auto'`` (the student head's: sigmoid when its
            classification loss uses sigmoid), ``'softmax'`` or
            ``'sigmoid'``. Defaults to ``'auto'``.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
    """

    kind = 'logit'

    def __init__(self,
                 tau: float = 1.0,
                 activation: str = 'auto',
                 loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        if tau <= 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        self.tau = float(tau)
        self.activation = check_choice('activation', activation,
                                       ('auto', 'softmax', 'sigmoid'))

    def forward(self,
                student_logits: Tensor,
                teacher_logits: Tensor,
                use_sigmoid: bool = False) -> Tensor:
        """The weighted loss.

        Args:
            student_logits (Tensor): ``(M, K)`` student logits.
            teacher_logits (Tensor): ``(M, K)`` teacher logits.
            use_sigmoid (bool): The head's activation, used when
                ``activation='auto'``. Defaults to False.

        Returns:
            Tensor: The scalar loss (0 when ``M`` is 0).
        """
        if student_logits.shape != teacher_logits.shape:
            raise ValueError(
                f'{self.key("type")}: student logits '
                f'{tuple(student_logits.shape)} and teacher logits '
                f'{tuple(teacher_logits.shape)} differ: model.teacher_cfg '
                'must have the same classes (and anchors) as the student')
        if student_logits.numel() == 0:
            return student_logits.sum() * 0
        sigmoid = (use_sigmoid if self.activation == 'auto' else
                   self.activation == 'sigmoid')
        student = student_logits.float() / self.tau
        teacher = teacher_logits.detach().float() / self.tau
        if sigmoid:
            q = torch.sigmoid(teacher)
            kl = (q * (F.logsigmoid(teacher) - F.logsigmoid(student)) +
                  (1 - q) * (F.logsigmoid(-teacher) - F.logsigmoid(-student)))
        else:
            log_q = F.log_softmax(teacher, dim=1)
            kl = log_q.exp() * (log_q - F.log_softmax(student, dim=1))
        loss = kl.sum() / student.shape[0] * self.tau**2
        return self.effective_weight * loss
