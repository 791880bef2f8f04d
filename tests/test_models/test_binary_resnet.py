# Copyright (c) mmbnn contributors. All rights reserved.
"""The vanilla binary ResNet: mmdet ResNet's geometry, exactly the block
convs binarized, informative (non-constant) sign inputs, the CIFAR stem and
the binary-weight-only option; BiRealResNet's CIFAR stem."""
import pytest
import torch
from torch import nn

from mmbnn.models import BinaryResNet, BiRealResNet
from mmbnn.ops import BinaryConv

BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3)}


def _binary_convs(model):
    return [n for n, m in model.named_modules()
            if isinstance(m, BinaryConv) and m.is_binary]


@pytest.mark.parametrize('depth', [18, 34, 50])
def test_geometry_equals_mmdet_resnet(depth, mmdet_scope):
    from mmdet.models import ResNet
    x = torch.randn(1, 3, 64, 96)
    ours = BinaryResNet(depth, base_channels=16).eval()
    ref = ResNet(depth, stem_channels=16, base_channels=16)
    ref.eval()  # mmdet's ResNet.train returns None
    with torch.no_grad():
        got, want = ours(x), ref(x)
    assert [o.shape for o in got] == [o.shape for o in want]
    assert ours.out_channels == tuple(o.shape[1] for o in want)
    # torchvision / mmdet key layout, plus nothing else but the activations
    ref_keys = {k for k in ref.state_dict() if 'num_batches' not in k}
    our_keys = {k for k in ours.state_dict() if 'num_batches' not in k}
    assert ref_keys == our_keys


@pytest.mark.parametrize('depth', [18, 34, 50])
def test_exactly_the_block_convs_are_binary(depth):
    model = BinaryResNet(depth, base_channels=8)
    convs = ('conv1', 'conv2') if depth < 50 else ('conv1', 'conv2', 'conv3')
    expected = [f'layer{i + 1}.{j}.{c}' for i, n in enumerate(BLOCKS[depth])
                for j in range(n) for c in convs]
    assert _binary_convs(model) == expected
    assert len(expected) == {18: 16, 34: 32, 50: 48}[depth]
    real = [n for n, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and n not in expected]
    shortcuts = [f'layer{i}.0.downsample.0' for i in (2, 3, 4)]
    if depth == 50:  # the first bottleneck widens 8 -> 32 channels
        shortcuts = ['layer1.0.downsample.0'] + shortcuts
    assert real == ['conv1'] + shortcuts


@pytest.mark.parametrize('depth', [18, 50])
def test_sign_inputs_are_not_constant(depth):
    """Every binary conv sees both signs (a post-ReLU input would give
    sign = +1 everywhere)."""
    model = BinaryResNet(depth, base_channels=8, stem_type='cifar')
    model.init_weights()
    model.train()
    seen = {}
    hooks = [
        model.get_submodule(n).register_forward_pre_hook(
            lambda m, args, n=n: seen.__setitem__(
                n, (float((args[0] < 0).float().mean()),
                    float((args[0] > 0).float().mean()))))
        for n in _binary_convs(model)
    ]
    model(torch.randn(4, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert len(seen) == len(_binary_convs(model))
    for name, (neg, pos) in seen.items():
        assert neg > 0.05 and pos > 0.05, (name, neg, pos)


def test_relu_in_front_of_binary_inputs_is_refused():
    with pytest.raises(ValueError, match="act='relu'.*'hardtanh'"):
        BinaryResNet(18, act='relu')
    # fine without binary activations: full precision or weights only
    BinaryResNet(18, act='relu', conv_cfg=None)
    model = BinaryResNet(18, act='relu',
                         conv_cfg=dict(type='BinaryConv', binarize_act=False))
    assert all(not model.get_submodule(n).binarize_act
               for n in _binary_convs(model))
    # the same under StoMPP (binary-weight networks of the StoMPP study)
    stompp = dict(type='StoMPP')
    BinaryResNet(18, act='relu', conv_cfg=dict(
        type='BinaryConv', binarize_act=False, progressive=stompp))
    with pytest.raises(ValueError, match="act='relu'"):
        BinaryResNet(18, act='relu',
                     conv_cfg=dict(type='BinaryConv', progressive=stompp))


@pytest.mark.parametrize('backbone', [BinaryResNet, BiRealResNet])
def test_cifar_stem_and_weight_only_option(backbone):
    model = backbone(18, base_channels=8, stem_type='cifar',
                     conv_cfg=dict(type='BinaryConv', binarize_act=False))
    outs = model(torch.randn(2, 3, 32, 32))
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4]
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    convs = [model.get_submodule(n) for n in _binary_convs(model)]
    assert len(convs) == 16
    assert all(c.binarize_weight and not c.binarize_act for c in convs)
    with pytest.raises(ValueError, match="stem_type='cifar10'"):
        backbone(18, stem_type='cifar10')


def test_every_binary_conv_gets_a_gradient():
    model = BinaryResNet(50, base_channels=8, stem_type='cifar')
    model.init_weights()
    model(torch.randn(2, 3, 32, 32))[-1].mean().backward()
    for name in _binary_convs(model):
        grad = model.get_submodule(name).weight.grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_bad_depth_is_a_clear_error():
    with pytest.raises(KeyError, match='depth=101.*18, 34, 50'):
        BinaryResNet(101)
