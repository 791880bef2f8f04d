# Copyright (c) mmbnn contributors. All rights reserved.
"""Deploy fusion rule of :class:`BinarySSDVGG` (see
:mod:`mmbnn.deploy.fusion`): each conv and the :class:`ConvPostProcess`
after it become one unit, :class:`FusedConvUnit` for a packed binary conv
(BN folded, shortcut and activation in the epilogue) and
:class:`FusedRealConvUnit` for the real first conv."""
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...deploy.fusion import (fold_bn_into_conv, fold_bn_into_packed,
                              register_fusion_rule)
from ...deploy.packed_conv import PackedBinaryConv, kernel_available
from ...deploy.real_ops import float_kernels
from ..layers import RPReLU, fuse_activation
from .binary_ssd_vgg import BinarySSDVGG, ConvPostProcess


class FusedConvUnit(nn.Module):
    """A :class:`BinarySSDVGG` conv and its :class:`ConvPostProcess` as one
    packed conv: BN folded, shortcut (the conv's input, repeated along
    channels when they grow) and activation in the epilogue."""

    def __init__(self, conv: PackedBinaryConv, post: ConvPostProcess) -> None:
        super().__init__()
        self.conv = conv
        fold_bn_into_packed(conv, post.bn)
        self.act = nn.Identity() if fuse_activation(conv, post.act) \
            else post.act
        self.repeats = post.repeats

    def forward(self, x: Tensor) -> Tensor:
        # the conv repeats a residual with fewer channels itself (the
        # kernel reads channel o % C instead of copying)
        residual: Optional[Tensor] = x if self.repeats >= 1 else None
        return self.act(self.conv(x, residual))


class FusedRealConvUnit(nn.Module):
    """A real-valued :class:`BinarySSDVGG` conv (conv1_1) and its
    :class:`ConvPostProcess`: BN folded into the conv, shortcut added, the
    RPReLU / PReLU in one pass (:func:`mmbnn.ops.float_kernels.rprelu`)
    instead of torch's three over the full-resolution tensor."""

    def __init__(self, conv: nn.Conv2d, post: ConvPostProcess) -> None:
        super().__init__()
        fold_bn_into_conv(conv, post.bn)
        self.conv, self.act, self.repeats = conv, post.act, post.repeats

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        if self.repeats == 1:
            y = y + x
        elif self.repeats > 1:
            y = y + x.repeat(1, self.repeats, 1, 1)
        act = self.act
        fast = (isinstance(act, (RPReLU, nn.PReLU)) and y.dim() == 4
                and y.device.type == 'cpu' and y.dtype == torch.float32
                and kernel_available()
                and not (torch.is_grad_enabled() and y.requires_grad))
        if not fast:
            return act(y)
        channels = y.shape[1]
        if isinstance(act, RPReLU):
            return float_kernels().rprelu(
                y,
                act.prelu.weight.detach().expand(channels).contiguous(),
                act.shift_in.detach().reshape(-1),
                act.shift_out.detach().reshape(-1))
        return float_kernels().rprelu(
            y, act.weight.detach().expand(channels).contiguous())


@register_fusion_rule(BinarySSDVGG)
def fuse_ssd_vgg(backbone: BinarySSDVGG) -> None:
    """Fuse each conv of ``backbone.features`` with the
    :class:`ConvPostProcess` after it, in place (the post-process becomes
    ``nn.Identity``)."""
    features = backbone.features
    for i in range(len(features) - 1):
        conv, post = features[i], features[i + 1]
        if not (isinstance(post, ConvPostProcess)
                and isinstance(post.bn, _BatchNorm)):
            continue
        if isinstance(conv, PackedBinaryConv):
            features[i] = FusedConvUnit(conv, post)
        elif type(conv) is nn.Conv2d:
            features[i] = FusedRealConvUnit(conv, post)
        else:
            continue
        features[i + 1] = nn.Identity()


__all__ = ['FusedConvUnit', 'FusedRealConvUnit', 'fuse_ssd_vgg']
