# Copyright (c) mmbnn contributors. All rights reserved.
"""Distillation from a frozen full-precision teacher into binary detectors:
wrappers for two-stage and single-stage students, feature-imitation, CWD
and logit losses, and a weight warm-up hook."""
from .detectors import (DISTILL_MODEL_KEYS, DISTILL_STATE_PREFIX,
                        DistillMixin, DistillSingleStageDetector,
                        DistillTwoStageDetector)
from .hook import DistillHook
from .losses import (BaseDistillLoss, ChannelWiseDivergenceLoss,
                     FeatureDistillLoss, FeatureImitationLoss, LogitKDLoss,
                     gt_foreground_masks)
from .student import (is_distill_model_cfg, load_student_checkpoint,
                      strip_distill_state, student_config, unwrap_distill)
from .teacher import build_teacher, load_teacher_config, renormalize

__all__ = [
    'BaseDistillLoss', 'ChannelWiseDivergenceLoss', 'DISTILL_MODEL_KEYS',
    'DISTILL_STATE_PREFIX', 'DistillHook', 'DistillMixin',
    'DistillSingleStageDetector', 'DistillTwoStageDetector',
    'FeatureDistillLoss', 'FeatureImitationLoss', 'LogitKDLoss',
    'build_teacher', 'gt_foreground_masks', 'is_distill_model_cfg',
    'load_student_checkpoint', 'load_teacher_config', 'renormalize',
    'strip_distill_state', 'student_config', 'unwrap_distill'
]
