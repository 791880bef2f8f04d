# Copyright (c) mmbnn contributors. All rights reserved.
"""Deploy fusion rules of :class:`BiRealResNet` (see
:mod:`mmbnn.deploy.fusion`): the stem's BN folds into its conv, and each
:class:`BiRealBasicBlock` becomes a :class:`FusedBiRealBlock`, its BNs
folded and its shortcut adds and activations in the packed convs'
epilogues. The shortcut's 2x2 average pooling runs as four strided slices
(the same values as ``F.avg_pool2d``; torch's NCHW CPU kernel is several
times slower)."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...deploy.fusion import (fold_bn_into_conv, fold_bn_into_packed,
                              register_fusion_rule)
from ...deploy.packed_conv import PackedBinaryConv
from ..layers import fuse_activation
from .bireal_resnet import AvgPoolDownsample, BiRealBasicBlock, BiRealResNet


def avg_pool_shortcut(x: Tensor, stride: int) -> Tensor:
    """``F.avg_pool2d(x, stride, stride, ceil_mode=True,
    count_include_pad=False)``; for stride 2 on even sizes as four strided
    slices summed in torch's window order and halved twice (the same
    values, several times faster than torch's CPU kernel)."""
    if stride == 1:
        return x
    if stride == 2 and x.dim() == 4 and x.shape[-2] % 2 == 0 \
            and x.shape[-1] % 2 == 0:
        return (x[..., 0::2, 0::2] + x[..., 0::2, 1::2] +
                x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) * 0.25
    return F.avg_pool2d(x, stride, stride, ceil_mode=True,
                        count_include_pad=False)


class FusedDownsample(nn.Sequential):
    """:class:`AvgPoolDownsample` with its BN folded into the 1x1 conv
    (children ``0``: the conv, ``1``: ``nn.Identity``)."""

    def __init__(self, downsample: AvgPoolDownsample) -> None:
        fold_bn_into_conv(downsample[0], downsample[1])
        super().__init__(downsample[0], nn.Identity())
        self.stride = downsample.stride

    def forward(self, x: Tensor) -> Tensor:
        return self[0](avg_pool_shortcut(x, self.stride))


class FusedBiRealBlock(nn.Module):
    """A :class:`BiRealBasicBlock` with its BNs folded and its shortcut adds
    and activations in the binary convs' epilogues.

    ``y = conv1(x, residual=shortcut(x))``; ``out = conv2(y, residual=y)``.
    An activation that cannot be fused (Hardtanh) runs after its conv.
    """

    def __init__(self, block: BiRealBasicBlock) -> None:
        super().__init__()
        self.conv1, self.conv2 = block.conv1, block.conv2
        fold_bn_into_packed(self.conv1, block.bn1)
        fold_bn_into_packed(self.conv2, block.bn2)
        self.act1 = (nn.Identity() if fuse_activation(self.conv1, block.act1)
                     else block.act1)
        self.act2 = (nn.Identity() if fuse_activation(self.conv2, block.act2)
                     else block.act2)
        self.downsample = block.downsample
        if isinstance(self.downsample, AvgPoolDownsample):
            self.downsample = FusedDownsample(self.downsample)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.act1(self.conv1(x, shortcut))
        return self.act2(self.conv2(y, y))


@register_fusion_rule(BiRealResNet)
def fuse_bireal_stem(backbone: BiRealResNet) -> None:
    """Fold the stem's BN into its real conv, in place (the blocks have
    their own rule)."""
    if isinstance(backbone.conv1, nn.Conv2d) and isinstance(
            backbone.bn1, _BatchNorm):
        fold_bn_into_conv(backbone.conv1, backbone.bn1)
        backbone.bn1 = nn.Identity()


@register_fusion_rule(BiRealBasicBlock)
def fuse_bireal_block(block: BiRealBasicBlock) -> Optional[FusedBiRealBlock]:
    """The block's :class:`FusedBiRealBlock`, or None (left as it is) when
    its convs are not packed or its norms not BNs."""
    if (isinstance(block.conv1, PackedBinaryConv)
            and isinstance(block.conv2, PackedBinaryConv)
            and isinstance(block.bn1, _BatchNorm)
            and isinstance(block.bn2, _BatchNorm)):
        return FusedBiRealBlock(block)
    return None


__all__ = [
    'FusedBiRealBlock', 'FusedDownsample', 'avg_pool_shortcut',
    'fuse_bireal_block', 'fuse_bireal_stem'
]
