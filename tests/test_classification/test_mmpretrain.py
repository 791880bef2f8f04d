# Copyright (c) mmbnn contributors. All rights reserved.
"""An mmpretrain 1.x classifier with mmbnn's binary backbone and StoMPP
rule, through custom_imports and the ``mmdet.`` scope prefix (skipped where
mmpretrain does not import, e.g. without a matching torchvision)."""
import pytest
import torch

mmpretrain = pytest.importorskip('mmpretrain')


def test_mmpretrain_classifier_with_mmbnn_backbone():
    from mmengine.registry import DefaultScope, init_default_scope
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    try:
        model = MODELS.build(
            dict(type='ImageClassifier',
                 backbone=dict(
                     type='mmdet.BinaryResNet', depth=18, base_channels=8,
                     stem_type='cifar', out_indices=(3, ),
                     conv_cfg=dict(type='BinaryConv', weight_scaling='none',
                                   progressive=dict(type='StoMPP'))),
                 neck=dict(type='GlobalAveragePooling'),
                 head=dict(type='LinearClsHead', num_classes=10,
                           in_channels=64)))
    finally:
        DefaultScope._instance_dict.clear()
    binary = [m for m in model.modules() if getattr(m, 'is_binary', False)]
    assert len(binary) == 16
    logits = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)
