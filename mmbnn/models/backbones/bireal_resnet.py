# Copyright (c) mmbnn contributors. All rights reserved.
"""Bi-Real / ReActNet-style binary ResNet-18/34 for mmdet detectors."""
from typing import List, Sequence, Tuple

import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...utils import check_choice
from ..layers import RPReLU

BLOCK_ACTS = ('rprelu', 'prelu', 'hardtanh', 'identity')


def _build_block_act(name: str, channels: int) -> nn.Module:
    check_choice('block_act', name, BLOCK_ACTS)
    if name == 'rprelu':
        return RPReLU(channels)
    if name == 'prelu':
        return nn.PReLU(channels)
    if name == 'hardtanh':
        return nn.Hardtanh()
    return nn.Identity()


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
        self.act1 = _build_block_act(block_act, out_channels)
        self.conv2 = build_conv_layer(
            conv_cfg, out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act2 = _build_block_act(block_act, out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = AvgPoolDownsample(in_channels, out_channels,
                                                stride, norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.act1(self.bn1(self.conv1(x)) + shortcut)
        return self.act2(self.bn2(self.conv2(y)) + y)


@MODELS.register_module()
class BiRealResNet(BaseModule):
    """Binary ResNet-18/34 with Bi-Real / ReActNet blocks.

    `Bi-Real Net <https://arxiv.org/abs/1808.00278>`_,
    `ReActNet <https://arxiv.org/abs/2003.03488>`_.

    Binarized (``conv_cfg``, ``BinaryConv`` by default): every 3x3 conv of
    every residual block (16 for depth 18, 32 for depth 34). Real-valued:
    the 7x7 stem conv, the three avg-pool + 1x1 conv + BN downsample
    shortcuts, all BN layers and the block activations. Stage outputs,
    channels and ``out_indices`` match mmdet's ``ResNet``, and parameter names
    match torchvision's, so ``init_cfg=dict(type='Pretrained',
    checkpoint='torchvision://resnet18')`` loads an ImageNet full-precision
    ResNet (the binary-only parameters stay at their init).

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
            ``dict(type='BinaryConv', act_threshold=True)``.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        norm_eval (bool): Keep BN layers in eval mode while training.
            Defaults to False (binary networks need BN statistics to track
            the binary activations).
        block_act (str): Activation after each shortcut add: ``'rprelu'``,
            ``'prelu'``, ``'hardtanh'`` or ``'identity'`` (original Bi-Real).
            Defaults to ``'rprelu'``.
        stem_act (bool): ReLU after the stem BN. Defaults to False: the first
            binary conv needs a signed input.
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
                 init_cfg: OptMultiConfig = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]
        super().__init__(init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'depth={depth} is not supported by BiRealResNet; '
                           f'allowed values: {sorted(self.arch_settings)}')
        stage_blocks = self.arch_settings[depth]
        if len(strides) != len(stage_blocks):
            raise ValueError(f'strides must have {len(stage_blocks)} '
                             f'entries, got {tuple(strides)}')
        if not set(out_indices) <= set(range(len(stage_blocks))):
            raise ValueError(f'out_indices={tuple(out_indices)} must be in '
                             f'{tuple(range(len(stage_blocks)))}')
        self.depth = depth
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        self.conv1 = nn.Conv2d(
            in_channels, base_channels, 7, stride=2, padding=3, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, base_channels)[1]
        self.stem_act = nn.ReLU(inplace=True) if stem_act else nn.Identity()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.res_layers: List[str] = []
        channels = base_channels
        for i, (num_blocks, stride) in enumerate(zip(stage_blocks, strides)):
            out_channels = base_channels * 2**i
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    BiRealBasicBlock(
                        channels, out_channels, stride if j == 0 else 1,
                        conv_cfg, norm_cfg, block_act))
                channels = out_channels
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*blocks))
            self.res_layers.append(name)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for module in (self.conv1, self.bn1):
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.maxpool(self.stem_act(self.bn1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'BiRealResNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
