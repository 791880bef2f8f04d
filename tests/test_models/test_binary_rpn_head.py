# Copyright (c) mmbnn contributors. All rights reserved.
"""BinaryRPNHead: RPNHead's layers by default, a BinaryConv shared conv
through conv_cfg, and an exact deploy conversion."""
import copy

import pytest
import torch
from mmdet.models.dense_heads import RPNHead
from torch import nn

from mmbnn.deploy import PackedBinaryConv, convert_to_deploy
from mmbnn.models.dense_heads import BinaryRPNHead
from mmbnn.ops import BinaryConv

ANCHORS = dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
               strides=[4, 8])
BINARY = dict(type='BinaryConv', act_threshold=True)


def test_without_conv_cfg_it_is_rpn_head(mmdet_scope):
    torch.manual_seed(0)
    plain = RPNHead(16, feat_channels=8, anchor_generator=ANCHORS)
    head = BinaryRPNHead(16, feat_channels=8, anchor_generator=ANCHORS)
    assert type(head.rpn_conv) is nn.Conv2d
    head.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(1, 16, 8, 8)
    for a, b in zip(plain.forward_single(x), head.forward_single(x)):
        assert torch.equal(a, b)


def test_conv_cfg_binarizes_only_the_shared_conv(mmdet_scope):
    head = BinaryRPNHead(16, feat_channels=8, anchor_generator=ANCHORS,
                         conv_cfg=BINARY)
    assert isinstance(head.rpn_conv, BinaryConv) and head.rpn_conv.is_binary
    assert (head.rpn_conv.in_channels, head.rpn_conv.out_channels) == (16, 8)
    assert type(head.rpn_cls) is nn.Conv2d and type(head.rpn_reg) is nn.Conv2d
    head.init_weights()  # RPNHead's Normal init reaches the BinaryConv too
    std = float(head.rpn_conv.weight.detach().std())
    assert std == pytest.approx(0.01, rel=0.3)
    cls_score, bbox_pred = head.forward_single(torch.randn(2, 16, 8, 8))
    assert cls_score.shape == (2, 3, 8, 8) and bbox_pred.shape == (2, 12, 8, 8)


def test_stacked_convs_have_no_activation_between(mmdet_scope):
    head = BinaryRPNHead(16, feat_channels=8, anchor_generator=ANCHORS,
                         num_convs=2, conv_cfg=BINARY,
                         norm_cfg=dict(type='BN'))
    assert len(head.rpn_conv) == 2
    for module in head.rpn_conv:
        assert isinstance(module.conv, BinaryConv)
        assert module.with_norm and not module.with_activation
        assert module.conv.bias is None


def test_deploy_conversion_is_exact(mmdet_scope):
    torch.manual_seed(0)
    head = BinaryRPNHead(16, feat_channels=8, anchor_generator=ANCHORS,
                         conv_cfg=BINARY).eval()
    with torch.no_grad():
        head.rpn_conv.threshold.normal_(0, 0.1)
        head.rpn_conv.bias.normal_()
    deploy = convert_to_deploy(copy.deepcopy(head), backend='reference')
    assert isinstance(deploy.rpn_conv, PackedBinaryConv)
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        for a, b in zip(head.forward_single(x), deploy.forward_single(x)):
            assert torch.equal(a, b)
