# Copyright (c) mmbnn contributors. All rights reserved.
"""What mmbnn's binary ResNets share: the stem, the stage loop, the
outputs, frozen stages and ``norm_eval``."""
from typing import Callable, List, Sequence, Tuple

from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import build_block_act, build_stem
from ..weight_init import BinaryPretrainedMixin

#: builds one block: ``(in_channels, planes, stride) -> (block, out_channels)``
BlockBuilder = Callable[[int, int, int], Tuple[nn.Module, int]]


class ResNetStagesBase(BinaryPretrainedMixin, BaseModule):
    """A ResNet body: ``stem -> layer1 .. layerN``, returning the stages of
    ``out_indices`` (mmdet ``ResNet``'s interface, so FPN and the RoI heads
    take it as they take mmdet's).

    Subclasses build their blocks through :meth:`_make_stages`. A
    ``BinaryPretrained`` init_cfg is applied last
    (:class:`~mmbnn.models.weight_init.BinaryPretrainedMixin`).

    Args:
        in_channels (int): Image channels.
        base_channels (int): Stem output channels and planes of the first
            stage (the width multiplier).
        stem_type (str): ``'imagenet'`` or ``'cifar'`` (see
            :func:`~mmbnn.models.layers.build_stem`).
        stem_act (str): Activation after the stem BN (a block activation
            name).
        out_indices (Sequence[int]): Stages to output.
        frozen_stages (int): Stages to freeze (-1: none, 0: the stem).
        norm_cfg (dict): Norm config.
        norm_eval (bool): Keep BN layers in eval mode while training.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self, in_channels: int, base_channels: int, stem_type: str,
                 stem_act: str, out_indices: Sequence[int],
                 frozen_stages: int, norm_cfg: ConfigType, norm_eval: bool,
                 init_cfg: OptMultiConfig) -> None:
        super().__init__(init_cfg)
        self.conv1, self.bn1, self.maxpool = build_stem(
            stem_type, in_channels, base_channels, norm_cfg)
        self.stem_act = build_block_act(stem_act, base_channels)
        self.stem_type = stem_type
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.res_layers: List[str] = []

    def _make_stages(self, stage_blocks: Sequence[int],
                     strides: Sequence[int], base_planes: int,
                     in_channels: int, make_block: BlockBuilder) -> None:
        """Add ``layer1 .. layerN``: stage ``i`` has ``stage_blocks[i]``
        blocks of ``base_planes * 2**i`` planes, the first with stride
        ``strides[i]``."""
        if len(strides) != len(stage_blocks):
            raise ValueError(f'strides must have {len(stage_blocks)} '
                             f'entries, got {tuple(strides)}')
        if not set(self.out_indices) <= set(range(len(stage_blocks))):
            raise ValueError(f'out_indices={self.out_indices} must be in '
                             f'{tuple(range(len(stage_blocks)))}')
        channels = in_channels
        self.stage_channels: List[int] = []
        for i, (num_blocks, stride) in enumerate(zip(stage_blocks, strides)):
            blocks = []
            for j in range(num_blocks):
                block, channels = make_block(channels, base_planes * 2**i,
                                             stride if j == 0 else 1)
                blocks.append(block)
            name = f'layer{i + 1}'
            self.add_module(name, nn.Sequential(*blocks))
            self.res_layers.append(name)
            self.stage_channels.append(channels)
        self._freeze_stages()

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned stage."""
        return tuple(self.stage_channels[i] for i in self.out_indices)

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            for module in (self.conv1, self.bn1, self.stem_act):
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

    def train(self, mode: bool = True) -> 'ResNetStagesBase':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self
