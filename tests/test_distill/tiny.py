# Copyright (c) mmbnn contributors. All rights reserved.
"""Tiny distillation detectors for the tests (seconds on CPU): the demo
configs at 1/8 width with 16-channel FPN/RPN/RoI, 64x64 images."""
import copy
import functools
import os.path as osp

import torch
from mmengine.config import Config, ConfigDict
from torch import nn

from ..conftest import REPO_ROOT

IMAGE = [3, 64, 64]
FPN = 16


def _shrink(model: ConfigDict) -> ConfigDict:
    model.backbone.base_channels = 8
    model.neck.in_channels = [8, 16, 32, 64]
    model.neck.out_channels = FPN
    model.rpn_head.in_channels = FPN
    model.rpn_head.feat_channels = FPN
    model.roi_head.bbox_roi_extractor.out_channels = FPN
    model.roi_head.bbox_roi_extractor.roi_layer.output_size = 4
    model.roi_head.bbox_head.in_channels = FPN
    model.roi_head.bbox_head.roi_feat_size = 4
    model.roi_head.bbox_head.fc_out_channels = 32
    # deterministic training (no random sampling): exact resume
    model.train_cfg.rpn.sampler = dict(type='PseudoSampler')
    model.train_cfg.rcnn.sampler = dict(type='PseudoSampler')
    return model


@functools.lru_cache(maxsize=None)
def _demo_cfg(name: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, 'configs/demo', name))


def demo_model(name: str, shrink: bool = True) -> ConfigDict:
    """The (shrunk) model config of ``configs/demo/<name>``."""
    model = copy.deepcopy(_demo_cfg(name).model)
    return _shrink(model) if shrink else model


def feature_losses(student=FPN, teacher=FPN, levels=5) -> dict:
    return dict(
        feat=dict(type='FeatureImitationLoss', student_channels=student,
                  teacher_channels=teacher, num_levels=levels,
                  fg_weight=2.0, bg_weight=0.5),
        cwd=dict(type='ChannelWiseDivergenceLoss', student_channels=student,
                 teacher_channels=teacher, num_levels=levels, tau=2.0))


def distill_model(teacher_ckpt=None, teacher=None, distill_cfg=None,
                  student='faster_rcnn_r18_ste_demo.py') -> ConfigDict:
    """A DistillTwoStageDetector config: the tiny binary STE student, the
    tiny FP teacher (a dict config), feature, CWD and logit losses."""
    model = demo_model(student)
    model.type = 'DistillTwoStageDetector'
    model.teacher_cfg = dict(
        model=teacher or demo_model('faster_rcnn_r18_fp_demo.py'))
    model.teacher_ckpt = teacher_ckpt
    model.allow_untrained_teacher = teacher_ckpt is None
    model.distill_cfg = distill_cfg or dict(
        feature_losses(), logit=dict(type='LogitKDLoss', tau=2.0))
    return model


def build(model_cfg):
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(model_cfg))


def batch(model, num=2, training=True):
    """A preprocessed batch of ``num`` 64x64 images with 1-9 boxes each."""
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(num, [IMAGE] * num, num_classes=4)
    return model.data_preprocessor(packed, training)


def save_teacher(path, teacher_model=None, image=IMAGE) -> str:
    """Initialise a teacher (default: the tiny FP Faster R-CNN), set its BN
    statistics to those of one batch (non-trivial buffers, and activations
    that stay bounded in evaluation mode) and save it as an mmengine-style
    checkpoint."""
    teacher = build(teacher_model or demo_model('faster_rcnn_r18_fp_demo.py'))
    teacher.init_weights()
    bns = [m for m in teacher.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: this batch's statistics
    teacher.train()
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(2, [image] * 2, num_classes=4)
    with torch.no_grad():
        teacher.extract_feat(teacher.data_preprocessor(packed, True)['inputs'])
    torch.save(dict(state_dict=teacher.state_dict(), meta={}), str(path))
    return str(path)
