# Copyright (c) mmbnn contributors. All rights reserved.
"""Detectors that train a (binary) student with a frozen full-precision
teacher.

A distillation detector *is* the student: it subclasses mmdet's
``TwoStageDetector`` / ``SingleStageDetector``, its config is the student's
model config with ``type`` changed and the distillation keys added, and its
predict/tensor forward, submodules and state-dict keys are the student's.
On top it holds

- ``distill_losses`` (a ``ModuleDict`` of the losses in
  ``model.distill_cfg``, with their 1x1 adapters): trained with the student,
  saved in its checkpoints under ``distill_losses.``;
- the teacher: built from ``model.teacher_cfg`` and loaded from
  ``model.teacher_ckpt`` once (by ``init_weights`` or the first ``loss``),
  always in evaluation mode without gradients, run under ``torch.no_grad``.
  It is not a submodule: ``parameters()`` (so the optimizer),
  ``state_dict()`` (so checkpoints), DDP and SyncBN conversion never see it;
  ``.to()``/``.cuda()`` move it along with the student.
"""
import contextlib
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
from mmdet.models.detectors import SingleStageDetector, TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmengine.config import Config
from torch import Tensor, nn

from .losses import BaseDistillLoss, FeatureDistillLoss
from .teacher import (build_teacher, freeze, load_teacher_checkpoint,
                      renormalize, resolve_teacher_cfg_path)

#: the keys a distillation detector adds to the student's model config
DISTILL_MODEL_KEYS = ('teacher_cfg', 'teacher_ckpt', 'allow_untrained_teacher',
                      'distill_cfg', 'student_type')
#: state-dict prefix of what only distillation trains (the adapters)
DISTILL_STATE_PREFIX = 'distill_losses.'


class DistillMixin:
    """The teacher and the distillation losses of a distillation detector.

    It comes before the student's mmdet class in the bases: its
    ``__init__`` takes the distillation arguments and passes the rest
    (``**kwargs``) to the student's ``__init__``.
    """

    #: the student class a config names by default (``student_type``)
    default_student_type = ''
    #: the mmdet base class the student must derive from
    student_base: type = nn.Module

    def __init__(self,
                 teacher_cfg: Union[str, dict, Config, None] = None,
                 teacher_ckpt: Optional[str] = None,
                 distill_cfg: Optional[dict] = None,
                 allow_untrained_teacher: bool = False,
                 student_type: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)  # the student detector
        if teacher_cfg is None:
            raise ValueError(
                'model.teacher_cfg is required: the path of the teacher\'s '
                'config (or package::path, or a dict with its model)')
        if isinstance(teacher_cfg, str):
            resolve_teacher_cfg_path(teacher_cfg)  # fails early, names key
        if teacher_ckpt is None and not allow_untrained_teacher:
            raise ValueError(
                'model.teacher_ckpt is None: a distillation student needs '
                'the trained teacher\'s checkpoint (path or URL). Set '
                'model.allow_untrained_teacher=True only for tests or '
                'a teacher deliberately left at its initialization')
        student_type = student_type or self.default_student_type
        student_cls = MODELS.get(student_type)
        if student_cls is None or not issubclass(student_cls,
                                                 self.student_base) \
                or issubclass(student_cls, DistillMixin):
            raise ValueError(
                f'model.student_type={student_type!r} must name a '
                f'registered {self.student_base.__name__} subclass (the '
                'student detector)')
        if not distill_cfg:
            raise ValueError('model.distill_cfg is empty: name at least one '
                             'distillation loss, e.g. dict(feat=dict('
                             "type='FeatureImitationLoss', ...))")
        losses = nn.ModuleDict()
        for name, loss_cfg in distill_cfg.items():
            if loss_cfg is None:  # a loss switched off by a child config
                continue
            loss = MODELS.build(loss_cfg)
            if not isinstance(loss, BaseDistillLoss):
                raise TypeError(
                    f'model.distill_cfg.{name}: {type(loss).__name__} is not '
                    'a distillation loss (FeatureImitationLoss, '
                    'ChannelWiseDivergenceLoss, LogitKDLoss)')
            loss.name = name
            losses[name] = loss
        self.distill_losses = losses
        self.teacher_cfg = teacher_cfg
        self.teacher_ckpt = teacher_ckpt
        self.allow_untrained_teacher = bool(allow_untrained_teacher)
        self.student_type = student_type
        # not a submodule: invisible to parameters(), state_dict(), DDP
        self.__dict__['_teacher_module'] = None

    # -- the teacher -------------------------------------------------------
    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher, built and loaded on first access."""
        if self.__dict__['_teacher_module'] is None:
            teacher = build_teacher(self.teacher_cfg)
            if self.teacher_ckpt is not None:
                load_teacher_checkpoint(teacher, self.teacher_ckpt)
            freeze(teacher)
            param = next(iter(self.parameters()), None)
            if param is not None:
                teacher.to(param.device)
            self.__dict__['_teacher_module'] = teacher
            self._check_teacher(teacher)
        return self.__dict__['_teacher_module']

    @property
    def teacher_built(self) -> bool:
        """Whether the teacher has been built (and loaded)."""
        return self.__dict__.get('_teacher_module') is not None

    def _check_teacher(self, teacher: nn.Module) -> None:
        """Raise when the teacher cannot serve the configured losses."""

    def init_weights(self) -> None:
        """The student's initialization, then the teacher's checkpoint."""
        super().init_weights()
        self.teacher  # noqa: B018 (builds, loads and freezes it)

    def train(self, mode: bool = True):
        """Set the student's mode; the teacher stays in evaluation mode."""
        super().train(mode)
        if self.teacher_built:
            self.__dict__['_teacher_module'].eval()
        return self

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if self.teacher_built:
            self.__dict__['_teacher_module']._apply(fn, *args, **kwargs)
        return self

    def teacher_features(self, batch_inputs: Tensor) -> Tuple[Tensor, ...]:
        """The teacher's neck levels for the student's batch (no grad)."""
        teacher = self.teacher
        param = next(iter(teacher.parameters()), None)
        if param is not None and param.device != batch_inputs.device:
            teacher.to(batch_inputs.device)
        teacher.eval()  # even if someone called teacher.train()
        with torch.no_grad():
            inputs = renormalize(batch_inputs, self.data_preprocessor,
                                 teacher.data_preprocessor)
            return tuple(teacher.extract_feat(inputs))

    # -- the losses --------------------------------------------------------
    def _losses_of_kind(self, kind: str) -> Dict[str, BaseDistillLoss]:
        return {name: loss for name, loss in self.distill_losses.items()
                if loss.kind == kind}

    def feature_kd_losses(self, student_feats: Sequence[Tensor],
                          teacher_feats: Sequence[Tensor],
                          batch_inputs: Tensor,
                          batch_data_samples: SampleList
                          ) -> Dict[str, Tensor]:
        """``loss_kd_<name>`` of every feature loss."""
        gt_bboxes = [
            get_box_tensor(sample.gt_instances.bboxes)
            for sample in batch_data_samples
        ]
        input_size = tuple(batch_inputs.shape[2:])
        losses = {}
        for name, loss in self._losses_of_kind('feature').items():
            assert isinstance(loss, FeatureDistillLoss)
            losses[f'loss_kd_{name}'] = loss(student_feats, teacher_feats,
                                             gt_bboxes, input_size)
        return losses

    def logit_kd_losses(self, student_logits: Tensor, teacher_logits: Tensor,
                        use_sigmoid: bool) -> Dict[str, Tensor]:
        """``loss_kd_<name>`` of every logit loss."""
        return {
            f'loss_kd_{name}': loss(student_logits, teacher_logits,
                                    use_sigmoid)
            for name, loss in self._losses_of_kind('logit').items()
        }

    # -- the student alone -------------------------------------------------
    def student_model(self) -> nn.Module:
        """The student as a plain ``student_type`` detector, without the
        teacher and the adapters.

        The returned model shares every submodule (and parameter) with this
        one, no copy: convert a ``copy.deepcopy`` of it if this model must
        stay trainable.
        """
        student_cls = MODELS.get(self.student_type)
        student = student_cls.__new__(student_cls)
        # nn.Module's own registries (_modules, _parameters, hooks...) are
        # copied, so that changing the student's layout leaves this one's
        state = {
            key: (type(value)(value) if key.startswith('_')
                  and isinstance(value, dict) else value)
            for key, value in self.__dict__.items()
            if key != '_teacher_module' and key not in DISTILL_MODEL_KEYS
        }
        state['_modules'].pop('distill_losses', None)
        student.__dict__.update(state)
        return student


def _flatten_scores(cls_scores: Sequence[Tensor], num_classes: int) -> Tensor:
    """Dense-head class maps ``(N, A * K, H, W)`` per level as ``(rows,
    K)``, in mmdet's anchor order."""
    return torch.cat([
        score.permute(0, 2, 3, 1).reshape(-1, num_classes)
        for score in cls_scores
    ])


def _head_uses_sigmoid(head: nn.Module) -> bool:
    if hasattr(head, 'use_sigmoid_cls'):
        return bool(head.use_sigmoid_cls)
    return bool(getattr(getattr(head, 'loss_cls', None), 'use_sigmoid',
                        False))


@contextlib.contextmanager
def _first_outputs(taps: Dict[str, Tuple[nn.Module, Callable]]):
    """Record what the detector's own ``loss`` computes on the way.

    Args:
        taps (dict): ``{key: (module, pick)}``: while the context is open,
            the first forward call of ``module`` stores ``pick(args,
            output)`` under ``key`` of the yielded dict (a later call, e.g.
            a mask branch sharing the RoI extractor, is ignored).
    """
    store: dict = {}

    def tap(key: str, pick: Callable) -> Callable:

        def hook(module, args, output):
            if key not in store:
                store[key] = pick(args, output)

        return hook

    handles = [
        module.register_forward_hook(tap(key, pick))
        for key, (module, pick) in taps.items()
    ]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


def _features_tap(detector: nn.Module) -> Tuple[nn.Module, Callable]:
    """The module whose output is ``extract_feat``'s: the neck, if any."""
    module = detector.neck if detector.with_neck else detector.backbone
    return module, lambda args, output: tuple(output)


def _single_roi_head(roi_head: Optional[nn.Module]) -> bool:
    return (roi_head is not None and all(
        isinstance(getattr(roi_head, name, None), nn.Module)
        and not isinstance(getattr(roi_head, name), nn.ModuleList)
        for name in ('bbox_roi_extractor', 'bbox_head'))
        and hasattr(roi_head, '_bbox_forward'))


@MODELS.register_module()
class DistillTwoStageDetector(DistillMixin, TwoStageDetector):
    """A two-stage student (Faster R-CNN and kin) distilled from a frozen
    teacher.

    ``loss`` adds to the student's losses one ``loss_kd_<name>`` per entry
    of ``distill_cfg``: the feature losses on every neck level (student and
    teacher features of the same batch), and the logit losses on the RoIs
    the student's RoI head sampled this step, scored by the student's and
    by the teacher's RoI head (``teacher.roi_head._bbox_forward`` on the
    teacher's features and the same RoIs).

    Args:
        teacher_cfg (str | dict | Config): The teacher's config: a path
            (``configs/bench/faster_rcnn_r18_fp_bench.py``), a
            ``package::path`` (``mmdet::pascal_voc/...``) or a config
            holding ``model``.
        teacher_ckpt (str, optional): The teacher's checkpoint, path or URL
            (mmengine's ``load_checkpoint``, strict). None is an error
            unless ``allow_untrained_teacher``.
        distill_cfg (dict): ``{name: loss config}``; each loss is logged as
            ``loss_kd_<name>``; a None entry is skipped.
        allow_untrained_teacher (bool): Accept ``teacher_ckpt=None`` (the
            teacher keeps its constructor initialization): for tests.
            Defaults to False.
        student_type (str): The student's detector class, used when the
            student is taken out of the wrapper (deploy export, complexity
            report, :func:`~mmbnn.distill.student_config`). Defaults to
            ``'FasterRCNN'``.
        **kwargs: The student's ``TwoStageDetector`` arguments (backbone,
            neck, rpn_head, roi_head, train_cfg, test_cfg,
            data_preprocessor, init_cfg).
    """

    default_student_type = 'FasterRCNN'
    student_base = TwoStageDetector

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self._losses_of_kind('logit') and not _single_roi_head(
                self.roi_head):
            name = next(iter(self._losses_of_kind('logit')))
            raise ValueError(
                f'model.distill_cfg.{name}: RoI logit distillation needs a '
                'single-stage RoI head with bbox_roi_extractor and bbox_head '
                '(StandardRoIHead); this student has '
                f'{type(self.roi_head).__name__}')

    def _check_teacher(self, teacher: nn.Module) -> None:
        if not hasattr(teacher, 'extract_feat'):
            raise ValueError('model.teacher_cfg must build a detector with '
                             'extract_feat')
        if self._losses_of_kind('logit') and not _single_roi_head(
                getattr(teacher, 'roi_head', None)):
            raise ValueError(
                'model.teacher_cfg: RoI logit distillation needs a two-stage '
                'teacher with a StandardRoIHead-like roi_head')

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """The student's RPN and RoI losses (mmdet's
        ``TwoStageDetector.loss``, run as it is) plus the distillation
        losses.

        The student's neck levels and, for the logit losses, the RoIs its
        RoI head sampled and their class scores are recorded on the way
        (forward hooks).

        Args:
            batch_inputs (Tensor): ``(N, C, H, W)`` preprocessed images.
            batch_data_samples (list[DetDataSample]): With gt_instances.

        Returns:
            dict: Loss components.
        """
        taps = dict(feats=_features_tap(self))
        logit_losses = self._losses_of_kind('logit')
        if logit_losses:
            taps.update(
                rois=(self.roi_head.bbox_roi_extractor,
                      lambda args, output: args[1].detach()),
                cls_score=(self.roi_head.bbox_head,
                           lambda args, output: output[0]))
        # first: building the teacher on the first call draws from the RNG
        teacher_feats = self.teacher_features(batch_inputs)
        with _first_outputs(taps) as store:
            losses = super().loss(batch_inputs, batch_data_samples)
        losses.update(
            self.feature_kd_losses(store['feats'], teacher_feats,
                                   batch_inputs, batch_data_samples))
        if logit_losses:
            with torch.no_grad():
                teacher_scores = self.teacher.roi_head._bbox_forward(
                    teacher_feats, store['rois'])['cls_score']
            losses.update(
                self.logit_kd_losses(
                    store['cls_score'], teacher_scores,
                    _head_uses_sigmoid(self.roi_head.bbox_head)))
        return losses


@MODELS.register_module()
class DistillSingleStageDetector(DistillMixin, SingleStageDetector):
    """A single-stage student (SSD and kin) distilled from a frozen teacher.

    ``loss`` adds one ``loss_kd_<name>`` per entry of ``distill_cfg``: the
    feature losses on every neck level, and the logit losses on the class
    scores of every anchor (student and teacher dense heads on the same
    batch; they must have the same anchors and classes).

    Args:
        teacher_cfg, teacher_ckpt, distill_cfg, allow_untrained_teacher:
            See :class:`DistillTwoStageDetector`.
        student_type (str): The student's detector class. Defaults to
            ``'SingleStageDetector'``.
        **kwargs: The student's ``SingleStageDetector`` arguments.
    """

    default_student_type = 'SingleStageDetector'
    student_base = SingleStageDetector

    def _check_teacher(self, teacher: nn.Module) -> None:
        if self._losses_of_kind('logit') and not hasattr(
                teacher, 'bbox_head'):
            raise ValueError('model.teacher_cfg: class-score distillation '
                             'needs a single-stage teacher with a bbox_head')

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """The student's dense-head losses (mmdet's
        ``SingleStageDetector.loss``, run as it is) plus the distillation
        losses.

        The student's neck levels and dense-head outputs are recorded on
        the way (forward hooks).

        Args:
            batch_inputs (Tensor): ``(N, C, H, W)`` preprocessed images.
            batch_data_samples (list[DetDataSample]): With gt_instances.

        Returns:
            dict: Loss components.
        """
        taps = dict(feats=_features_tap(self),
                    outs=(self.bbox_head, lambda args, output: output))
        # first: building the teacher on the first call draws from the RNG
        teacher_feats = self.teacher_features(batch_inputs)
        with _first_outputs(taps) as store:
            losses = super().loss(batch_inputs, batch_data_samples)
        kd_losses = self.feature_kd_losses(store['feats'], teacher_feats,
                                           batch_inputs, batch_data_samples)
        outs = store['outs']
        losses.update(kd_losses)
        if self._losses_of_kind('logit'):
            num_classes = self.bbox_head.cls_out_channels
            with torch.no_grad():
                teacher_scores = self.teacher.bbox_head(teacher_feats)[0]
            student_scores = outs[0]
            shapes = ([tuple(s.shape) for s in student_scores],
                      [tuple(t.shape) for t in teacher_scores])
            if shapes[0] != shapes[1]:
                raise ValueError(
                    'model.teacher_cfg: the teacher\'s class-score maps '
                    f'{shapes[1]} differ from the student\'s {shapes[0]}; '
                    'anchors and classes must be the same')
            losses.update(
                self.logit_kd_losses(
                    _flatten_scores(student_scores, num_classes),
                    _flatten_scores(teacher_scores, num_classes),
                    _head_uses_sigmoid(self.bbox_head)))
        return losses
