# Copyright (c) mmbnn contributors. All rights reserved.
"""The "vanilla" binary ResNet: ordinary BasicBlock / Bottleneck ResNets
with 1-bit convs inside the blocks (BinaryConnect / XNOR-Net-style BNN
ResNets, the baseline family of the StoMPP papers)."""
from typing import Sequence

from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..layers import build_block_act, check_signed_inputs
from .resnet_base import ResNetStagesBase


def _downsample(in_channels: int, out_channels: int, stride: int,
                norm_cfg: ConfigType) -> nn.Sequential:
    """The real-valued projection shortcut ``BN(conv1x1_stride(x))``
    (children ``0``/``1`` as in mmdet's and torchvision's ResNet)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
        build_norm_layer(norm_cfg, out_channels)[1])


class BinaryBasicBlock(BaseModule):
    """ResNet's BasicBlock with binary convs and one shortcut per block.

    ``y = act1(BN1(conv1(x)))``;
    ``out = act2(BN2(conv2(y)) + shortcut(x))``. Each conv binarizes its own
    input, which is a signed activation (``act``) of a BN output: never a
    post-ReLU tensor.
    """

    expansion = 1

    def __init__(self,
                 in_channels: int,
                 planes: int,
                 stride: int = 1,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act: str = 'hardtanh',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        self.conv1 = build_conv_layer(conv_cfg, in_channels, planes, 3,
                                      stride, 1, bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        self.act1 = build_block_act(act, planes)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, 1, 1,
                                      bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.act2 = build_block_act(act, planes)
        self.downsample = None
        if stride != 1 or in_channels != planes:
            self.downsample = _downsample(in_channels, planes, stride,
                                          norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(y)) + shortcut)


class BinaryBottleneck(BaseModule):
    """ResNet's Bottleneck (stride on the 3x3 conv, as mmdet's ``pytorch``
    style) with binary 1x1, 3x3 and 1x1 convs and one shortcut per block.

    ``y1 = act1(BN1(conv1(x)))``; ``y2 = act2(BN2(conv2(y1)))``;
    ``out = act3(BN3(conv3(y2)) + shortcut(x))``.
    """

    expansion = 4

    def __init__(self,
                 in_channels: int,
                 planes: int,
                 stride: int = 1,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act: str = 'hardtanh',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg)
        out_channels = planes * self.expansion
        self.conv1 = build_conv_layer(conv_cfg, in_channels, planes, 1,
                                      bias=False)
        self.bn1 = build_norm_layer(norm_cfg, planes)[1]
        self.act1 = build_block_act(act, planes)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, stride, 1,
                                      bias=False)
        self.bn2 = build_norm_layer(norm_cfg, planes)[1]
        self.act2 = build_block_act(act, planes)
        self.conv3 = build_conv_layer(conv_cfg, planes, out_channels, 1,
                                      bias=False)
        self.bn3 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act3 = build_block_act(act, out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = _downsample(in_channels, out_channels, stride,
                                          norm_cfg)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.act1(self.bn1(self.conv1(x)))
        y = self.act2(self.bn2(self.conv2(y)))
        return self.act3(self.bn3(self.conv3(y)) + shortcut)


@MODELS.register_module()
class BinaryResNet(ResNetStagesBase):
    """Vanilla binary ResNet-18/34/50: one shortcut around each block.

    The StoMPP papers' baseline family (BinaryConnect / XNOR-Net-style BNN
    ResNets), unlike :class:`BiRealResNet`, which wraps every binary conv
    in a real-valued shortcut.

    Binarized (``conv_cfg``, ``BinaryConv`` by default): every conv inside
    every block, 16 3x3 convs for depth 18, 32 for 34 and the 48 1x1 / 3x3
    / 1x1 convs of the 16 bottlenecks for 50. Real-valued: the stem conv,
    the projection shortcuts (1x1 conv + BN), every BN and activation, and
    (in :class:`~mmbnn.models.ImageClassifier`) the classifier. Each binary
    conv takes the sign of a signed activation of a BN output
    (``act='hardtanh'`` by default), never of a post-ReLU tensor.

    Channels, strides and ``out_indices`` are mmdet ``ResNet``'s at every
    depth (``base_channels`` scales them), so the backbone drops into
    Faster R-CNN + FPN; parameter names are torchvision's.

    Args:
        depth (int): 18, 34 or 50.
        in_channels (int): Image channels. Defaults to 3.
        base_channels (int): Stem channels and planes of the first stage
            (64 in the standard ResNets; smaller for CPU-sized runs).
            Defaults to 64.
        strides (Sequence[int]): First-block stride of each stage.
            Defaults to (1, 2, 2, 2).
        out_indices (Sequence[int]): Stages to output. Defaults to
            (0, 1, 2, 3).
        frozen_stages (int): Stages to freeze (-1: none, 0: the stem).
            Defaults to -1.
        conv_cfg (dict): Config of the block convs. Defaults to
            ``dict(type='BinaryConv')``; ``binarize_act=False`` gives a
            binary-weight-only network, None a full-precision one.
        norm_cfg (dict): Norm config. Defaults to ``dict(type='BN')``.
        norm_eval (bool): Keep BN layers in eval mode while training.
            Defaults to False.
        act (str): Activation inside and after each block and after the
            stem: ``'hardtanh'``, ``'identity'``, ``'prelu'``, ``'rprelu'``
            or, where no conv binarizes its input, ``'relu'``.
            Defaults to ``'hardtanh'``.
        stem_type (str): ``'imagenet'`` or ``'cifar'``. Defaults to
            ``'imagenet'``.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    arch_settings = {
        10: (BinaryBasicBlock, (1, 1, 1, 1)),
        18: (BinaryBasicBlock, (2, 2, 2, 2)),
        34: (BinaryBasicBlock, (3, 4, 6, 3)),
        50: (BinaryBottleneck, (3, 4, 6, 3)),
    }

    def __init__(self,
                 depth: int,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 strides: Sequence[int] = (1, 2, 2, 2),
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 conv_cfg: OptConfigType = dict(type='BinaryConv'),
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 act: str = 'hardtanh',
                 stem_type: str = 'imagenet',
                 init_cfg: OptMultiConfig = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]
        if depth not in self.arch_settings:
            raise KeyError(f'depth={depth} is not supported by BinaryResNet;'
                           f' allowed values: {sorted(self.arch_settings)}')
        super().__init__(in_channels, base_channels, stem_type, act,
                         out_indices, frozen_stages, norm_cfg, norm_eval,
                         init_cfg)
        self.depth = depth
        block_type, stage_blocks = self.arch_settings[depth]

        def make_block(in_ch: int, planes: int, stride: int):
            block = block_type(in_ch, planes, stride, conv_cfg, norm_cfg, act)
            return block, planes * block_type.expansion

        self._make_stages(stage_blocks, strides, base_channels,
                          base_channels, make_block)
        check_signed_inputs(self, act, 'act')
