# Copyright (c) mmbnn contributors. All rights reserved.
"""The fused inference form of a deploy model (after ``convert_to_deploy``).

What it does, in place:

* **BatchNorm folding.** A BN in evaluation mode after a conv is the affine
  map ``k * (y - mean) + beta`` with ``k = gamma / sqrt(var + eps)``. After
  a :class:`~mmbnn.deploy.PackedBinaryConv` (``d * scale + bias``) it folds
  into ``scale' = scale * k`` and ``bias' = (bias - mean) * k + beta``;
  after a real conv into its weight and bias (the stem, the 1x1 shortcut
  convs). The BN becomes ``nn.Identity``.
* **Epilogue fusion.** The shortcut add and the RPReLU / PReLU that follow a
  binary conv (Bi-Real blocks, :class:`BinarySSDVGG` layers) run in the
  packed kernel's output stage, on each output row while it is in cache.
* **Pooling.** Max pooling runs a direct plane-by-plane kernel and the
  Bi-Real shortcut's 2x2 average pooling four strided slices (the same
  values as ``F.max_pool2d`` / ``F.avg_pool2d``; torch's NCHW CPU pooling
  kernels are several times slower). mmcv's average RoIAlign runs a
  threaded kernel with the same values (mmcv's CPU one is single-threaded).

Exactness: the popcount dot products are exact integers either way; the
epilogue repeats torch's operations in torch's order, and so is bit-exact.
Folding changes float rounding only: ``d * (scale * k) + b'`` instead of
``(d * scale + bias - mean) * k + beta``, a relative difference of a few
float32 ulps per layer (the tests hold each fused layer to 1e-5 of the
unfused one on the same input). Through a whole network such a difference
can flip a binarized activation that lies on its threshold, so a fused
model predicts like, not bit for bit as, the unfused one: exports keep
both forms (``--fuse``), and the unfused one stays bit-exact.

Activations between consecutive binary convs stay float: in every binary
block of these backbones the conv output is also the real-valued shortcut
of the next add, so a packed-only hand-over would lose it.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.backbones.binary_ssd_vgg import BinarySSDVGG, ConvPostProcess
from ..models.backbones.bireal_resnet import (AvgPoolDownsample,
                                              BiRealBasicBlock, BiRealResNet)
from ..models.layers import RPReLU
from ..utils import set_submodule
from .packed_conv import PackedBinaryConv, _xnor, kernel_available


def _bn_affine(bn: _BatchNorm):
    """``(k, shift)`` with ``BN(y) = y * k + shift`` in evaluation mode."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f'{bn!r} keeps no running statistics '
                         '(track_running_stats=False): it cannot be folded')
    k = torch.rsqrt(bn.running_var.double() + bn.eps)
    if bn.weight is not None:
        k = k * bn.weight.double()
    shift = -bn.running_mean.double() * k
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    return k, shift


@torch.no_grad()
def fold_bn_into_packed(conv: PackedBinaryConv, bn: _BatchNorm) -> None:
    """Fold ``bn`` (applied after ``conv``) into its scale and bias."""
    k, shift = _bn_affine(bn)
    scale = (torch.ones(conv.out_channels, dtype=torch.float64)
             if conv.scale is None else conv.scale.double())
    bias = (torch.zeros(conv.out_channels, dtype=torch.float64)
            if conv.bias is None else conv.bias.double())
    device = conv.packed_weight.device
    conv.scale = (scale * k).float().to(device)
    conv.bias = (bias * k + shift).float().to(device)
    conv._cache.clear()


@torch.no_grad()
def fold_bn_into_conv(conv: nn.Conv2d, bn: _BatchNorm) -> None:
    """Fold ``bn`` (applied after the real conv ``conv``) into its weight
    and bias, in place."""
    k, shift = _bn_affine(bn)
    weight = conv.weight.double() * k.view(-1, 1, 1, 1)
    bias = (torch.zeros(conv.out_channels, dtype=torch.float64)
            if conv.bias is None else conv.bias.double())
    conv.weight.copy_(weight.to(conv.weight.dtype))
    if conv.bias is None:
        conv.bias = nn.Parameter(torch.empty_like(conv.weight[:, 0, 0, 0]))
    conv.bias.copy_((bias * k + shift).to(conv.bias.dtype))


def fuse_activation(conv: PackedBinaryConv, act: nn.Module) -> bool:
    """Move ``act`` (RPReLU, PReLU or Identity) into ``conv``'s epilogue.

    Returns:
        bool: Whether it was fused; a False leaves ``act`` to run after.
    """
    if isinstance(act, nn.Identity):
        return True
    if isinstance(act, RPReLU):
        conv.set_activation(act.prelu.weight, act.shift_in, act.shift_out)
        return True
    if isinstance(act, nn.PReLU):
        conv.set_activation(act.weight)
        return True
    return False


class FusedMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` through :func:`mmbnn.ops.xnor.max_pool2d` on CPU
    float32 inputs (same values), torch's elsewhere."""

    @classmethod
    def from_module(cls, pool: nn.MaxPool2d) -> 'FusedMaxPool2d':
        return cls(pool.kernel_size, pool.stride, pool.padding,
                   pool.dilation, pool.return_indices, pool.ceil_mode)

    def forward(self, x: Tensor) -> Tensor:
        if (x.device.type == 'cpu' and x.dtype == torch.float32
                and x.dim() == 4 and not self.return_indices
                and self.dilation in (1, (1, 1)) and kernel_available()
                and not (torch.is_grad_enabled() and x.requires_grad)):
            return _xnor().max_pool2d(x, self.kernel_size, self.stride,
                                      self.padding, self.ceil_mode)
        return super().forward(x)


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


class FusedRoIAlign(nn.Module):
    """mmcv's ``RoIAlign`` (``pool_mode='avg'``) through
    :func:`mmbnn.ops.xnor.roi_align` on CPU float32 inputs: the same values
    (tested), on all of torch's threads with channels innermost; mmcv's op
    elsewhere (GPU, gradients, max pooling)."""

    def __init__(self, roi_align: nn.Module) -> None:
        super().__init__()
        self.roi_align = roi_align

    @property
    def output_size(self) -> tuple:
        """The wrapped op's ``output_size`` (mmdet's RoI extractors read
        it)."""
        return self.roi_align.output_size

    @staticmethod
    def replaces(module: nn.Module) -> bool:
        """Whether ``module`` is an mmcv ``RoIAlign`` this class can run."""
        try:
            from mmcv.ops import RoIAlign
        except ImportError:
            return False
        return (isinstance(module, RoIAlign) and module.pool_mode == 'avg'
                and not getattr(module, 'use_torchvision', False))

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        op = self.roi_align
        if (features.device.type == 'cpu' and features.dtype == torch.float32
                and rois.dtype == torch.float32 and kernel_available()
                and not (torch.is_grad_enabled() and features.requires_grad)):
            return _xnor().roi_align(features, rois, op.output_size,
                                     op.spatial_scale, op.sampling_ratio,
                                     op.aligned)
        return op(features, rois)


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
    RPReLU / PReLU in one pass (:func:`mmbnn.ops.xnor.rprelu`) instead of
    torch's three over the full-resolution tensor."""

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
            return _xnor().rprelu(y, act.prelu.weight.detach().expand(
                channels).contiguous(), act.shift_in.detach().reshape(-1),
                act.shift_out.detach().reshape(-1))
        return _xnor().rprelu(
            y, act.weight.detach().expand(channels).contiguous())


def _fusable_block(block: BiRealBasicBlock) -> bool:
    return (isinstance(block.conv1, PackedBinaryConv)
            and isinstance(block.conv2, PackedBinaryConv)
            and isinstance(block.bn1, _BatchNorm)
            and isinstance(block.bn2, _BatchNorm))


def _fuse_ssd_vgg(backbone: BinarySSDVGG) -> int:
    features = backbone.features
    fused = 0
    for i in range(len(features) - 1):
        conv, post = features[i], features[i + 1]
        if (isinstance(conv, PackedBinaryConv)
                and isinstance(post, ConvPostProcess)
                and isinstance(post.bn, _BatchNorm)):
            features[i] = FusedConvUnit(conv, post)
            features[i + 1] = nn.Identity()
            fused += 1
        elif (type(conv) is nn.Conv2d and isinstance(post, ConvPostProcess)
              and isinstance(post.bn, _BatchNorm)):
            features[i] = FusedRealConvUnit(conv, post)
            features[i + 1] = nn.Identity()
    return fused


def _fuse_stem(backbone: BiRealResNet) -> None:
    if isinstance(backbone.conv1, nn.Conv2d) and isinstance(
            backbone.bn1, _BatchNorm):
        fold_bn_into_conv(backbone.conv1, backbone.bn1)
        backbone.bn1 = nn.Identity()


def fuse_deploy_model(model: nn.Module) -> nn.Module:
    """Fuse a deploy model (see the module docstring), in place.

    Call it on the output of :func:`~mmbnn.deploy.convert_to_deploy`; every
    BN it folds must be in evaluation mode (the model is put in eval mode).
    Layers it does not know stay as they are.

    Args:
        model (nn.Module): A deploy model.

    Returns:
        nn.Module: ``model`` itself, with ``model.deploy_fused = True``.
    """
    model.eval()
    for module in list(model.modules()):
        if isinstance(module, BiRealResNet):
            _fuse_stem(module)
        elif isinstance(module, BinarySSDVGG):
            _fuse_ssd_vgg(module)
    for name, module in list(model.named_modules()):
        if isinstance(module, BiRealBasicBlock) and _fusable_block(module):
            set_submodule(model, name, FusedBiRealBlock(module))
    replace_real_ops(model)
    model.deploy_fused = True
    return model


def replace_real_ops(model: nn.Module) -> nn.Module:
    """Swap the real-valued ops that have a faster equal-valued kernel here:
    ``nn.MaxPool2d`` -> :class:`FusedMaxPool2d`, mmcv's average ``RoIAlign``
    -> :class:`FusedRoIAlign`, in place. Part of
    :func:`fuse_deploy_model`; on its own it applies to any model (a
    full-precision one too), so a benchmark can tell the speed-up of these
    ops from that of binarization.

    Returns:
        nn.Module: ``model`` itself.
    """
    for name, module in list(model.named_modules()):
        if type(module) is nn.MaxPool2d:
            set_submodule(model, name, FusedMaxPool2d.from_module(module))
        elif FusedRoIAlign.replaces(module):
            set_submodule(model, name, FusedRoIAlign(module))
    return model


__all__ = [
    'FusedBiRealBlock', 'FusedConvUnit', 'FusedDownsample', 'FusedMaxPool2d',
    'FusedRealConvUnit', 'FusedRoIAlign', 'avg_pool_shortcut',
    'fold_bn_into_conv', 'fold_bn_into_packed', 'fuse_activation',
    'fuse_deploy_model', 'replace_real_ops'
]
