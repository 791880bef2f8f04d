# Copyright (c) mmbnn contributors. All rights reserved.
"""``ImageClassifier``: backbone, global average pooling, a linear head and
cross-entropy, with optional distillation from a frozen full-precision
classifier (ReActNet's distributional loss)."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor, nn

from ...distill.losses import LogitKDLoss
from ...distill.teacher import (build_teacher, freeze, load_teacher_checkpoint,
                                renormalize, resolve_teacher_cfg_path)

DataSamples = Optional[List[BaseDataElement]]


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """An image classifier over any mmbnn (or mmdet) backbone.

    ``logits = fc(dropout(mean_hw(backbone(x)[-1])))``. The pooling and the
    ``fc`` layer are real-valued. The backbone is built from the registry,
    so ``BinaryResNet``, ``BiRealResNet`` and mmdet's ``ResNet`` all fit;
    its last returned stage feeds the head (``out_indices=(3, )``).

    Forward modes (MMEngine's ``BaseModel`` contract): ``'tensor'`` returns
    the logits, ``'loss'`` a dict with ``loss_cls`` (and ``loss_distill``),
    ``'predict'`` the data samples with ``pred_score`` (softmax) and
    ``pred_label`` set.

    Distillation (``teacher_cfg`` set): a frozen teacher classifier, built
    from its config and loaded from ``teacher_ckpt`` on first use, never a
    submodule (not in the state dict, the optimizer or DDP). The student
    learns ``ce_weight * CE + distill_weight * tau^2 * KL(softmax(t/tau) ||
    softmax(s/tau))``; ReActNet trains with the KL term alone
    (``ce_weight=0``, ``tau=1``).

    Args:
        backbone (dict): Backbone config.
        num_classes (int): Classes.
        in_channels (int, optional): Channels of the backbone's last output;
            read from ``backbone.out_channels`` when None.
        dropout (float): Dropout before ``fc``. Defaults to 0.
        label_smoothing (float): Of the cross-entropy. Defaults to 0.
        teacher_cfg (str or dict, optional): The teacher's config (a path,
            ``package::path`` or a dict with ``model``).
        teacher_ckpt (str, optional): The teacher's checkpoint; required
            with ``teacher_cfg`` unless ``allow_untrained_teacher``.
        distill_weight (float): Weight of the KL term. Defaults to 1.
        ce_weight (float): Weight of the cross-entropy when distilling.
            Defaults to 0 (ReActNet).
        tau (float): Distillation temperature. Defaults to 1.
        allow_untrained_teacher (bool): Accept a teacher without checkpoint
            (tests). Defaults to False.
        data_preprocessor (dict, optional): Defaults to mmengine's
            ``ImgDataPreprocessor`` without normalization.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 num_classes: int,
                 in_channels: Optional[int] = None,
                 dropout: float = 0.0,
                 label_smoothing: float = 0.0,
                 teacher_cfg: Union[str, dict, Config, None] = None,
                 teacher_ckpt: Optional[str] = None,
                 distill_weight: float = 1.0,
                 ce_weight: float = 0.0,
                 tau: float = 1.0,
                 allow_untrained_teacher: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ImgDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'num_classes must be >= 2, got {num_classes}')
        self.backbone = MODELS.build(backbone)
        if in_channels is None:
            channels = getattr(self.backbone, 'out_channels', None)
            if not channels:
                raise ValueError(
                    'model.in_channels is required: the backbone '
                    f'{type(self.backbone).__name__} does not report its '
                    'out_channels')
            in_channels = channels[-1]
        self.num_classes = num_classes
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)
        self.label_smoothing = float(label_smoothing)
        if teacher_cfg is not None:
            if isinstance(teacher_cfg, str):
                resolve_teacher_cfg_path(teacher_cfg)  # fails early
            if teacher_ckpt is None and not allow_untrained_teacher:
                raise ValueError(
                    'model.teacher_ckpt is None: a distillation student needs '
                    'the trained teacher\'s checkpoint (path or URL)')
            self.kd_loss = LogitKDLoss(tau=tau, activation='softmax',
                                       loss_weight=distill_weight)
        self.teacher_cfg, self.teacher_ckpt = teacher_cfg, teacher_ckpt
        self.ce_weight = float(ce_weight)
        # not a submodule: invisible to parameters(), state_dict(), DDP
        self.__dict__['_teacher'] = None

    # -- the teacher -------------------------------------------------------
    @property
    def distilling(self) -> bool:
        """Whether a teacher is configured."""
        return self.teacher_cfg is not None

    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher, built and loaded on first access."""
        if self.__dict__['_teacher'] is None:
            teacher = build_teacher(self.teacher_cfg)
            if self.teacher_ckpt is not None:
                load_teacher_checkpoint(teacher, self.teacher_ckpt)
            teacher.to(self.fc.weight.device)
            self.__dict__['_teacher'] = freeze(teacher)
        return self.__dict__['_teacher']

    def train(self, mode: bool = True) -> 'ImageClassifier':
        super().train(mode)
        if self.__dict__.get('_teacher') is not None:
            self.__dict__['_teacher'].eval()
        return self

    # -- forward -----------------------------------------------------------
    def extract_feat(self, inputs: Tensor) -> Sequence[Tensor]:
        """The backbone's outputs."""
        return self.backbone(inputs)

    def logits(self, inputs: Tensor) -> Tensor:
        """Class logits ``(N, num_classes)``."""
        feat = self.extract_feat(inputs)[-1]
        return self.fc(self.dropout(feat.mean(dim=(2, 3))))

    @staticmethod
    def gt_labels(data_samples: Sequence[BaseDataElement]) -> Tensor:
        """The ``gt_label`` of every sample as one ``(N, )`` tensor."""
        return torch.cat([s.gt_label.view(-1) for s in data_samples])

    def loss(self, inputs: Tensor,
             data_samples: Sequence[BaseDataElement]) -> Dict[str, Tensor]:
        """The training losses of a batch."""
        logits = self.logits(inputs)
        labels = self.gt_labels(data_samples).to(logits.device)
        ce = F.cross_entropy(logits, labels,
                             label_smoothing=self.label_smoothing)
        if not self.distilling:
            return dict(loss_cls=ce)
        teacher = self.teacher
        with torch.no_grad():
            teacher_inputs = renormalize(inputs, self.data_preprocessor,
                                         teacher.data_preprocessor)
            teacher_logits = teacher.logits(teacher_inputs)
        losses = dict(loss_distill=self.kd_loss(logits, teacher_logits))
        if self.ce_weight > 0:
            losses['loss_cls'] = self.ce_weight * ce
        return losses

    def predict(self, inputs: Tensor,
                data_samples: DataSamples = None) -> List[BaseDataElement]:
        """Data samples with ``pred_score`` (softmax) and ``pred_label``."""
        scores = F.softmax(self.logits(inputs), dim=1)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(len(scores))]
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score
            sample.pred_label = score.argmax().view(1)
        return list(data_samples)

    def forward(self,
                inputs: Tensor,
                data_samples: DataSamples = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.logits(inputs)
        if mode == 'loss':
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples with "
                                 'gt_label')
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode={mode!r}; allowed values: 'tensor', 'loss', "
                         "'predict'")
