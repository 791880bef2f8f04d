# Copyright (c) mmbnn contributors. All rights reserved.
"""Every config under configs/ loads and builds its model; the binary ones
binarize exactly the layers docs/en/user_guides/configs.md lists."""
import glob
import os.path as osp

import pytest
import torch
from mmdet.models.detectors import SingleStageDetector
from mmengine.config import Config
from torch import nn

from mmbnn.distill import unwrap_distill
from mmbnn.ops import BinaryConv

from .conftest import REPO_ROOT

CONFIGS = sorted(
    osp.relpath(p, REPO_ROOT)
    for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                       recursive=True) if '_base_' not in p)


def _build(config):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    return cfg, MODELS.build(cfg.model)


def test_configs_found():
    assert 'configs/faster_rcnn_r18_ste_voc.py' in CONFIGS
    assert 'configs/faster_rcnn_r18_fp_voc.py' in CONFIGS
    assert 'configs/demo/faster_rcnn_r18_ste_demo.py' in CONFIGS


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds(config, mmdet_scope):
    cfg, model = _build(config)
    assert cfg.default_scope == 'mmdet'
    assert 'mmbnn' in cfg.custom_imports['imports']
    # a distillation config is checked on its student (teacher, adapters
    # apart; tests/test_distill covers them)
    model = unwrap_distill(model)
    binary = [n for n, m in model.named_modules()
              if isinstance(m, BinaryConv) and m.is_binary]
    if '_fp_' in osp.basename(config):
        assert binary == []
        return
    if config.startswith('configs/cls/'):
        _check_binary_classifier(model, binary, cfg.model.backbone)
    elif isinstance(model, SingleStageDetector):
        _check_binary_ssd(model, binary, config)
    else:
        _check_binary_faster_rcnn(model, binary, cfg.model.backbone.depth,
                                  '_binrpn_' in osp.basename(config))


def _check_binary_classifier(model, binary, backbone_cfg):
    depth = backbone_cfg.depth
    assert len(binary) == {18: 16, 34: 32, 50: 48}[depth]
    assert all(n.startswith('backbone.layer') for n in binary)
    real = _real_convs(model, binary)
    assert real[0] == 'backbone.conv1'
    assert all(n.endswith('downsample.0') for n in real[1:])
    weight_only = backbone_cfg.conv_cfg.get('binarize_act') is False
    for name in binary:
        assert model.get_submodule(name).binarize_act != weight_only


def _real_convs(model, binary):
    return [n for n, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and n not in binary]


def _check_binary_faster_rcnn(model, binary, depth, binary_rpn):
    backbone = [n for n in binary if n.startswith('backbone.')]
    neck = [n for n in binary if n.startswith('neck.')]
    rpn = [n for n in binary if n.startswith('rpn_head.')]
    assert len(backbone) == {18: 16, 34: 32}[depth]
    assert sorted(neck) == sorted(
        [f'neck.lateral_convs.{i}.conv' for i in range(4)] +
        [f'neck.fpn_convs.{i}.conv' for i in range(4)])
    assert rpn == (['rpn_head.rpn_conv'] if binary_rpn else [])
    assert len(binary) == len(backbone) + len(neck) + len(rpn)
    real = _real_convs(model, binary)
    assert sorted(n for n in real if n.startswith('backbone.')) == [
        'backbone.conv1', 'backbone.layer2.0.downsample.0',
        'backbone.layer3.0.downsample.0', 'backbone.layer4.0.downsample.0'
    ]
    assert all(n.startswith(('backbone.', 'rpn_head.')) for n in real)


def _check_binary_ssd(model, binary, config):
    # VGG-16 conv indices of SSDVGG without conv1_1 (features.0)
    convs = [2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33]
    levels = 2 if 'demo' in config else 4  # SSDNeck extra levels
    assert sorted(binary) == sorted(
        [f'backbone.features.{i}' for i in convs] +
        [f'neck.extra_layers.{i}.{j}.conv' for i in range(levels)
         for j in range(2)])
    real = _real_convs(model, binary)
    assert 'backbone.features.0' in real
    assert all(n == 'backbone.features.0' or n.startswith('bbox_head.')
               for n in real)


@pytest.mark.parametrize(
    'config', [c for c in CONFIGS if c.startswith('configs/demo/')])
def test_demo_config_runs_loss_and_predict(config, mmdet_scope):
    from mmdet.testing import demo_mm_inputs
    _, model = _build(config)
    model.init_weights()
    packed = demo_mm_inputs(2, [[3, 128, 128], [3, 96, 128]], num_classes=4)
    data = model.data_preprocessor(packed, True)
    losses = model(**data, mode='loss')
    expected = {'loss_cls', 'loss_bbox'}
    if 'rpn_head' in model._modules:
        expected |= {'loss_rpn_cls', 'loss_rpn_bbox'}
    assert expected <= set(losses)
    model.eval()
    with torch.no_grad():
        preds = model(**model.data_preprocessor(packed, False),
                      mode='predict')
    assert len(preds) == 2 and preds[0].pred_instances.bboxes.shape[1] == 4
