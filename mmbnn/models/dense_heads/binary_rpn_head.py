# Copyright (c) mmbnn contributors. All rights reserved.
"""An RPN head whose shared 3x3 conv(s) are built from ``conv_cfg``.

mmdet's ``RPNHead`` builds its shared conv as a plain ``nn.Conv2d`` (one
conv) or as ``ConvModule`` without ``conv_cfg`` (several), so a binary
detector's RPN stays full precision. On an FPN detector at 608x800 that
3x3, 256-channel conv runs on every pyramid level (about 24 G MACs, more
than the whole ResNet-18 backbone), which bounds the end-to-end speed-up of
the deployed detector. Binary detectors such as BiDet
(https://arxiv.org/abs/2003.03961) binarize it; ``BinaryRPNHead`` does so
through ``conv_cfg`` and keeps the two 1x1 prediction convs (objectness and
box deltas, a few output channels) real-valued.
"""
from typing import Optional

from mmcv.cnn import ConvModule, build_conv_layer
from mmdet.models.dense_heads import RPNHead
from mmdet.registry import MODELS
from torch import nn


@MODELS.register_module()
class BinaryRPNHead(RPNHead):
    """``RPNHead`` with ``conv_cfg`` (and ``norm_cfg``) for its shared convs.

    With ``conv_cfg=None`` and ``norm_cfg=None`` it builds exactly the layers
    of ``RPNHead`` (same names, so the same checkpoints load). The forward is
    ``RPNHead``'s: ``relu(rpn_conv(x))`` into the real-valued 1x1
    ``rpn_cls`` / ``rpn_reg`` convs.

    Args:
        in_channels (int): Input feature channels.
        conv_cfg (dict, optional): Config of the shared 3x3 convs, e.g.
            ``dict(type='BinaryConv', act_threshold=True)``. A binary conv
            binarizes its input, the FPN output, which is signed. Defaults
            to None (``nn.Conv2d``).
        norm_cfg (dict, optional): Norm after each shared conv (then the
            convs have no bias), e.g. ``dict(type='BN')``. With it, or with
            ``num_convs > 1``, the convs are ``ConvModule`` s without an
            activation between them (a ReLU would feed the next binary conv
            a non-negative input, whose sign is constant). Defaults to None.
        **kwargs: ``RPNHead``'s arguments (``num_convs``, ``feat_channels``,
            ``anchor_generator``, ...).
    """

    def __init__(self,
                 in_channels: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        # read by _init_layers, which AnchorHead.__init__ calls
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        super().__init__(in_channels, **kwargs)

    def _init_layers(self) -> None:
        super()._init_layers()
        if self.conv_cfg is None and self.norm_cfg is None:
            return
        if self.num_convs == 1 and self.norm_cfg is None:
            self.rpn_conv = build_conv_layer(
                self.conv_cfg, self.in_channels, self.feat_channels, 3,
                padding=1)
            return
        convs = []
        for i in range(self.num_convs):
            in_channels = self.in_channels if i == 0 else self.feat_channels
            # RPNHead.forward_single applies the ReLU after the last one
            convs.append(
                ConvModule(
                    in_channels,
                    self.feat_channels,
                    3,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=None,
                    inplace=False))
        self.rpn_conv = convs[0] if len(convs) == 1 else nn.Sequential(*convs)
