# Copyright (c) mmbnn contributors. All rights reserved.
"""Bi-Real / ReActNet-style binary ResNet-18/34 for mmdet detectors and
mmbnn's classifier."""
from typing import Sequence

import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..layers import build_block_act, check_signed_inputs
from .resnet_base import ResNetStagesBase


class AvgPoolDownsample(nn.Sequential):
    """Real-valued shortcut ``BN(conv1x1(avgpool(x)))`` (Bi-Real Net).

    Its children are ``0`` (the 1x1 conv) and ``1`` (the BN), so it loads
    the ``downsample.0/1`` weights of a torchvision ResNet checkpoint.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 norm_cfg: ConfigType) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            build_norm_layer(norm_cfg, out_channels)[1])
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = F.avg_pool2d(
                x, self.stride, self.stride, ceil_mode=True,
                count_include_pad=False)
        return super().forward(x)


class BiRealBasicBlock(BaseModule):
    """Two binary 3x3 convs, each wrapped by its own shortcut.

    ``y = act1(BN1(conv1(x)) + shortcut(x))``;
    ``out = act2(BN2(conv2(y)) + y)``. The convs binarize their own inputs
    (``BinaryConv`` applies ``sign`` with an optional learnable threshold),
    so every binary conv sees a real-valued, zero-centred input instead of
    a post-ReLU one.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 block_act: str = 'rprelu',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act1 = build_block_act(block_act, out_channels)
        self.conv2 = build_conv_layer(
            conv_cfg, out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act2 = build_block_act(block_act, out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = AvgPoolDownsample(in_channels, out_channels,
                                                stride, norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.act1(self.bn1(self.conv1(x)) + shortcut)
        return self.act2(self.bn2(self.conv2(y)) + y)


@MODELS.register_module()
class BiRealResNet(ResNetStagesBase):
    """Binary ResNet-18/34 with Bi-Real / ReActNet blocks.

    `Bi-Real Net <https://arxiv.org/abs/1808.00278>`_,
    `ReActNet <https://arxiv.org/abs/2003.03488>`_.

    Binarized (``conv_cfg``, ``BinaryConv`` by default): every 3x3 conv of
    every residual block (16 for depth 18, 32 for depth 34). Real-valued:
    the stem conv, the three avg-pool + 1x1 conv + BN downsample
    shortcuts, all BN layers and the block activations. Stage outputs,
    channels and ``out_indices`` match mmdet's ``ResNet``, and parameter names
    match torchvision's, so ``init_cfg=dict(type='Pretrained',
    checkpoint='torchvision://resnet18')`` loads an ImageNet full-precision
    ResNet (the binary-only parameters stay at their init), and
    ``init_cfg=dict(type='BinaryPretrained', ...)`` a binary classifier of
    mmbnn's (:class:`~mmbnn.models.weight_init.BinaryPretrainedInit`).

    Args:
        depth (int): 18 or 34.
        in_channels (int): Input image channels. Defaults to 3.
        base_channels (int): Channels of the first stage. Defaults to 64.
        strides (Sequence[int]): First-block stride of each stage.
            Defaults to (1, 2, 2, 2).
        out_indices (Sequence[int]): Stages to output. Defaults to
            (0, 1, 2, 3).
        frozen_stages (int): Stages to freeze (-1: none, 0: the stem).
            Defaults to -1.
        conv_cfg (dict): Config of the block convs. Defaults to
            ``dict(type='BinaryConv', act_threshold=True)``; add
            ``binarize_act=False`` for a binary-weight-only network.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        norm_eval (bool): Keep BN layers in eval mode while training.
            Defaults to False (binary networks need BN statistics to track
            the binary activations).
        block_act (str): Activation after each shortcut add: ``'rprelu'``,
            ``'prelu'``, ``'hardtanh'``, ``'identity'`` (original Bi-Real)
            or, without binary activations, ``'relu'``. Defaults to
            ``'rprelu'``.
        stem_act (bool): ReLU after the stem BN. Defaults to False: the first
            binary conv needs a signed input.
        stem_type (str): ``'imagenet'`` (7x7 stride-2 conv + max-pool) or
            ``'cifar'`` (3x3 stride-1 conv, no pooling, for 32 px images).
            Defaults to ``'imagenet'``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    arch_settings = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

    def __init__(self,
                 depth: int,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 conv_cfg: OptConfigType = dict(
                     type='BinaryConv', act_threshold=True),
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 block_act: str = 'rprelu',
                 stem_act: bool = False,
                 stem_type: str = 'imagenet',
                 init_cfg: OptMultiConfig = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]
        if depth not in self.arch_settings:
            raise KeyError(f'depth={depth} is not supported by BiRealResNet; '
                           f'allowed values: {sorted(self.arch_settings)}')
        super().__init__(in_channels, base_channels, stem_type,
                         'relu' if stem_act else 'identity', out_indices,
                         frozen_stages, norm_cfg, norm_eval, init_cfg)
        self.depth = depth

        def make_block(in_ch: int, planes: int, stride: int):
            return BiRealBasicBlock(in_ch, planes, stride, conv_cfg,
                                    norm_cfg, block_act), planes

        self._make_stages(self.arch_settings[depth], strides, base_channels,
                          base_channels, make_block)
        check_signed_inputs(self, block_act, 'block_act')
        if stem_act:
            check_signed_inputs(self.layer1[0], 'relu', 'stem_act')
