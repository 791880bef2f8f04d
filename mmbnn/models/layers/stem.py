# Copyright (c) mmbnn contributors. All rights reserved.
"""The real-valued stem shared by mmbnn's binary ResNets."""
from typing import Tuple

from mmcv.cnn import build_norm_layer
from torch import nn

from ...utils import check_choice

#: ``'imagenet'``: 7x7 stride-2 conv + BN + 3x3 stride-2 max-pool (input/4);
#: ``'cifar'``: 3x3 stride-1 conv + BN, no pooling (input/1), for 32 px
#: images.
STEM_TYPES = ('imagenet', 'cifar')


def build_stem(stem_type: str, in_channels: int, out_channels: int,
               norm_cfg: dict) -> Tuple[nn.Conv2d, nn.Module, nn.Module]:
    """``(conv1, bn1, maxpool)`` of a ResNet stem.

    The names follow torchvision's ResNet, so an ImageNet checkpoint loads
    into the ``'imagenet'`` stem. No activation is included: a binary
    network's first binarized conv needs a signed input, so the caller
    decides what follows the BN.

    Args:
        stem_type (str): One of :data:`STEM_TYPES`.
        in_channels (int): Image channels.
        out_channels (int): Stem output channels.
        norm_cfg (dict): Norm layer config.

    Returns:
        tuple: The stem conv, its norm layer and the pooling (an
        ``nn.Identity`` for ``'cifar'``).
    """
    check_choice('stem_type', stem_type, STEM_TYPES)
    if stem_type == 'imagenet':
        conv = nn.Conv2d(in_channels, out_channels, 7, stride=2, padding=3,
                         bias=False)
        pool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    else:
        conv = nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1,
                         bias=False)
        pool = nn.Identity()
    return conv, build_norm_layer(norm_cfg, out_channels)[1], pool
