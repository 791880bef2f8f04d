# Copyright (c) mmbnn contributors. All rights reserved.
"""A binary VGG-16 for SSD (BiDet-style), a drop-in for mmdet's ``SSDVGG``.

mmdet's ``SSDVGG`` builds plain ``nn.Conv2d`` layers followed by ReLU, so
``conv_cfg`` cannot binarize it, and a binary conv behind a ReLU would see
only non-negative inputs (``sign`` = +1 everywhere). ``BinarySSDVGG`` keeps
SSDVGG's layer sequence, strides, pooling, dilated fc6 and outputs, and
changes what a binary network needs:

* every conv but the first is a ``conv_cfg`` conv (``BinaryConv``), which
  binarizes its own real-valued input with a learnable threshold;
* each ReLU is replaced by ``act(BN(conv(x)) + shortcut(x))``: BN after every
  conv (BiDet), a parameter-free shortcut around every conv whose output
  shape allows it (identity when channels match, the input repeated along
  channels when they double: conv2_1, conv3_1, conv4_1 and fc6), and a signed
  activation (RPReLU by default) so the next binary conv sees a zero-centred
  input;
* the first conv (3 -> 64) stays real-valued (RGB input).

The convs keep SSDVGG's module indices (``features.0``, ``features.2``, ...,
``features.31`` fc6, ``features.33`` fc7), so an ImageNet full-precision
VGG-16 checkpoint in mmcv's layout (``open-mmlab://vgg16_caffe``) loads into
them through ``init_cfg``; BN/activation parameters sit at the former ReLU
indices and stay at their init.
"""
from typing import List, Sequence, Tuple

from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from ...utils import check_choice
from ..layers import BLOCK_ACTS, build_block_act, check_signed_inputs
from ..weight_init import BinaryPretrainedMixin

# convs per stage of VGG-16 (mmcv's VGG layout)
VGG16_STAGE_CONVS = (2, 2, 3, 3, 3)
SHORTCUTS = ('repeat', 'identity', 'none')


class ConvPostProcess(nn.Module):
    """What follows a conv in :class:`BinarySSDVGG` (in place of its ReLU):
    ``act(BN(y) + shortcut(x))`` with ``y = conv(x)``.

    Args:
        in_channels (int): Channels of the conv input ``x``.
        out_channels (int): Channels of the conv output ``y``.
        shortcut (str): ``'repeat'`` (identity when channels match, ``x``
            repeated along channels when ``out_channels`` is a multiple of
            ``in_channels``, else none), ``'identity'`` (only when channels
            match) or ``'none'``.
        norm_cfg (dict): Norm layer config.
        act (str): One of ``BLOCK_ACTS``.
    """

    def __init__(self, in_channels: int, out_channels: int, shortcut: str,
                 norm_cfg: ConfigType, act: str) -> None:
        super().__init__()
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]
        self.act = build_block_act(act, out_channels)
        self.repeats = 0
        if shortcut == 'repeat' and out_channels % in_channels == 0:
            self.repeats = out_channels // in_channels
        elif shortcut == 'identity' and out_channels == in_channels:
            self.repeats = 1

    def forward(self, y: Tensor, x: Tensor) -> Tensor:
        out = self.bn(y)
        if self.repeats == 1:
            out = out + x
        elif self.repeats > 1:
            out = out + x.repeat(1, self.repeats, 1, 1)
        return self.act(out)


@MODELS.register_module()
class BinarySSDVGG(BinaryPretrainedMixin, BaseModule):
    """Binary VGG-16 backbone for SSD with ``SSDVGG``'s outputs.

    Outputs (for a 300x300 input): conv4_3 (``8 * base_channels`` = 512
    channels, 38x38) and fc7 (``16 * base_channels`` = 1024, 19x19), at the
    same ``out_feature_indices`` as ``SSDVGG`` (22 and 34), so mmdet's
    ``SSDNeck`` and ``SSDHead`` work unchanged.

    Binarized: the 12 3x3 convs after the first, fc6 (3x3, dilation 6) and
    fc7 (1x1) = 14 convs (when ``conv_cfg`` is a ``BinaryConv``). Real-valued:
    conv1_1, every BN, activation and threshold, the max-pools.

    Args:
        depth (int): Only 16. Defaults to 16.
        base_channels (int): Width of stage 1; stages use 1, 2, 4, 8, 8
            times it and fc6/fc7 16 times it. Defaults to 64 (VGG-16).
        conv_cfg (dict, optional): Config of the binarized convs, e.g.
            ``dict(type='BinaryConv', act_threshold=True)``.
        norm_cfg (dict): Norm after every conv. Defaults to BN.
        act (str): Activation after every conv: ``'rprelu'``, ``'prelu'``,
            ``'hardtanh'`` or ``'identity'``. Defaults to ``'rprelu'``.
        shortcut (str): See :class:`ConvPostProcess`. Defaults to
            ``'repeat'``.
        num_real_convs (int): How many leading convs stay real-valued
            (plain ``nn.Conv2d``); at least 1, the RGB conv. Defaults to 1.
        ceil_mode (bool): Max-pool rounding, as in SSDVGG. Defaults to True.
        out_feature_indices (Sequence[int]): Indices of ``features`` whose
            outputs are returned. Defaults to (22, 34).
        init_cfg (dict or list[dict], optional): Initialization config; e.g.
            ``dict(type='Pretrained', checkpoint='open-mmlab://vgg16_caffe')``
            for ImageNet FP VGG-16 weights.
    """

    def __init__(self,
                 depth: int = 16,
                 base_channels: int = 64,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act: str = 'rprelu',
                 shortcut: str = 'repeat',
                 num_real_convs: int = 1,
                 ceil_mode: bool = True,
                 out_feature_indices: Sequence[int] = (22, 34),
                 init_cfg: OptMultiConfig = [
                     dict(type='Kaiming', layer='Conv2d'),
                     dict(type='Constant', val=1, layer='_BatchNorm')
                 ]) -> None:
        super().__init__(init_cfg)
        if depth != 16:
            raise ValueError(f'depth={depth!r}; allowed values: 16')
        check_choice('act', act, BLOCK_ACTS)
        check_choice('shortcut', shortcut, SHORTCUTS)
        if not 1 <= num_real_convs <= sum(VGG16_STAGE_CONVS) + 2:
            raise ValueError(f'num_real_convs={num_real_convs!r}; allowed '
                             f'values: 1 to {sum(VGG16_STAGE_CONVS) + 2}')
        self.out_feature_indices = tuple(out_feature_indices)
        layers: List[nn.Module] = []

        def add_conv(in_ch: int, out_ch: int, *args, **kwargs) -> None:
            built = sum(isinstance(m, nn.Conv2d) for m in layers)
            cfg = None if built < num_real_convs else conv_cfg
            layers.append(
                build_conv_layer(cfg, in_ch, out_ch, *args, **kwargs))
            # the RGB conv has no shortcut (3 input channels)
            layers.append(
                ConvPostProcess(in_ch, out_ch,
                                shortcut if in_ch > 3 else 'none', norm_cfg,
                                act))

        in_ch = 3
        for stage, num_convs in enumerate(VGG16_STAGE_CONVS):
            out_ch = base_channels * min(2**stage, 8)
            for _ in range(num_convs):
                add_conv(in_ch, out_ch, 3, padding=1)
                in_ch = out_ch
            if stage < len(VGG16_STAGE_CONVS) - 1:
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=ceil_mode))
        # SSD's pool5 and the converted fc6 (dilated 3x3) / fc7 (1x1)
        layers.append(nn.MaxPool2d(3, 1, padding=1))
        fc_ch = base_channels * 16
        add_conv(in_ch, fc_ch, 3, padding=6, dilation=6)
        add_conv(fc_ch, fc_ch, 1)
        self.features = nn.Sequential(*layers)
        check_signed_inputs(self, act, 'act')
        if max(self.out_feature_indices) >= len(self.features):
            raise ValueError(
                f'out_feature_indices={self.out_feature_indices}; indices '
                f'must be < {len(self.features)}')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        outs = []
        layer_input = x
        for index, layer in enumerate(self.features):
            if isinstance(layer, ConvPostProcess):
                # a post-process follows its conv: its shortcut is the conv's
                # input, whatever module the conv is (a deploy model's packed
                # conv is no nn.Conv2d)
                x = layer(x, layer_input)
            else:
                layer_input, x = x, layer(x)
            if index in self.out_feature_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)
