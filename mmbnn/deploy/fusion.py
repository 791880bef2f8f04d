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
  binary conv (Bi-Real blocks, ``BinarySSDVGG`` layers) run in the
  packed kernel's output stage, on each output row while it is in cache.
* **Faster real-valued ops.** Max pooling and mmcv's average RoIAlign run
  the threaded CPU kernels of :mod:`mmbnn.deploy.real_ops` (the same
  values; torch's NCHW CPU max-pool is several times slower and mmcv's CPU
  RoIAlign single-threaded).

Exactness: the popcount dot products are exact integers either way; the
epilogue repeats torch's operations in torch's order, and so is bit-exact.
Folding changes float rounding only: ``d * (scale * k) + b'`` instead of
``(d * scale + bias - mean) * k + beta``, a relative difference of a few
float32 ulps per layer (the tests hold each fused layer to 1e-5 of the
unfused one on the same input). Through a whole network such a difference
can flip a binarized activation that lies on its threshold, so a fused
model predicts like, not bit for bit as, the unfused one: exports keep
both forms (``--fuse``), and the unfused one stays bit-exact.

Where to fuse is the models' business: each module class that has a fused
form registers a rule with :func:`register_fusion_rule`, next to its own
code (the Bi-Real ResNet's in
``mmbnn/models/backbones/bireal_resnet_fusion.py``, the binary SSD VGG's
in ``mmbnn/models/backbones/binary_ssd_vgg_fusion.py``), from the helpers
here; :func:`fuse_deploy_model` walks a model and applies them. A new
backbone brings its own rule and needs no change here.

Activations between consecutive binary convs stay float: in every binary
block of these backbones the conv output is also the real-valued shortcut
of the next add, so a packed-only hand-over would lose it.
"""
from typing import Callable, Dict, Optional, Type

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .packed_conv import PackedBinaryConv
from .real_ops import CPUMaxPool2d, CPURoIAlign, replace_real_ops

#: A fusion rule: fuses its module in place and returns None, or returns
#: the module to put in its place.
FusionRule = Callable[[nn.Module], Optional[nn.Module]]

#: The registered rules, by module class (see :func:`register_fusion_rule`).
FUSION_RULES: Dict[Type[nn.Module], FusionRule] = {}


def register_fusion_rule(*module_types: Type[nn.Module]):
    """Register the decorated function as the fusion rule of
    ``module_types`` (and of their subclasses without a rule of their own).

    The rule gets a module of a deploy model in evaluation mode (its binary
    convs already :class:`~mmbnn.deploy.PackedBinaryConv`) and either fuses
    it in place and returns None, or returns its fused replacement;
    :func:`fuse_deploy_model` does not descend into a replacement.

    Raises:
        TypeError: If no type is given, or one is not an ``nn.Module``
            subclass.
        KeyError: If one already has a rule (then none is registered).
    """
    if not module_types or not all(
            isinstance(t, type) and issubclass(t, nn.Module)
            for t in module_types):
        raise TypeError('register_fusion_rule takes one or more nn.Module '
                        f'subclasses, got {module_types!r}')

    def register(rule: FusionRule) -> FusionRule:
        for module_type in module_types:
            if module_type in FUSION_RULES:
                raise KeyError(
                    f'{module_type.__qualname__} already has a fusion rule: '
                    f'{FUSION_RULES[module_type].__qualname__}')
        FUSION_RULES.update(dict.fromkeys(module_types, rule))
        return rule

    return register


def fusion_rule_for(module: nn.Module) -> Optional[FusionRule]:
    """The rule registered for ``module``'s class or its nearest base
    class, or None."""
    for cls in type(module).__mro__:
        rule = FUSION_RULES.get(cls)
        if rule is not None:
            return rule
    return None


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


def _fuse_tree(module: nn.Module) -> Optional[nn.Module]:
    """Apply the rules to ``module`` and then to its (remaining)
    descendants, parents first; returns ``module``'s replacement or None."""
    rule = fusion_rule_for(module)
    if rule is not None:
        replacement = rule(module)
        if replacement is not None:
            return replacement
    for name, child in list(module.named_children()):
        replacement = _fuse_tree(child)
        if replacement is not None:
            setattr(module, name, replacement)
    return None


def fuse_deploy_model(model: nn.Module) -> nn.Module:
    """Fuse a deploy model (see the module docstring), in place.

    Call it on the output of :func:`~mmbnn.deploy.convert_to_deploy`; every
    BN it folds must be in evaluation mode (the model is put in eval mode).
    Modules without a registered rule stay as they are; then
    :func:`~mmbnn.deploy.real_ops.replace_real_ops` swaps in the faster
    real-valued ops.

    Args:
        model (nn.Module): A deploy model.

    Returns:
        nn.Module: ``model`` itself (or its replacement, if ``model`` is a
        module a rule replaces), with ``deploy_fused = True``.
    """
    model.eval()
    replacement = _fuse_tree(model)
    if replacement is not None:
        model = replacement
    replace_real_ops(model)
    model.deploy_fused = True
    return model


# the former names of the real-op modules, which fuse nothing
FusedMaxPool2d = CPUMaxPool2d
FusedRoIAlign = CPURoIAlign

__all__ = [
    'FUSION_RULES', 'FusedMaxPool2d', 'FusedRoIAlign', 'FusionRule',
    'fold_bn_into_conv', 'fold_bn_into_packed', 'fuse_deploy_model',
    'fusion_rule_for', 'register_fusion_rule', 'replace_real_ops'
]
