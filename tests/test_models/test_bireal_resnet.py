# Copyright (c) mmbnn contributors. All rights reserved.
import pytest
import torch
from torch import nn

from mmbnn.models import BiRealResNet
from mmbnn.ops import BinaryConv


def _conv_names(model, binary: bool):
    names = []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            if (isinstance(m, BinaryConv) and m.is_binary) == binary:
                names.append(name)
    return names


@pytest.mark.parametrize('depth,blocks', [(18, (2, 2, 2, 2)),
                                          (34, (3, 4, 6, 3))])
def test_outputs_and_binarized_layers(depth, blocks):
    model = BiRealResNet(depth)
    model.init_weights()
    outs = model(torch.randn(2, 3, 64, 96))
    assert [o.shape for o in outs] == [
        (2, 64, 16, 24), (2, 128, 8, 12), (2, 256, 4, 6), (2, 512, 2, 3)
    ]
    # What the README says: every 3x3 block conv is binary; the stem and the
    # three downsample 1x1 convs are real-valued.
    expected_binary = [
        f'layer{i + 1}.{j}.conv{k}' for i, n in enumerate(blocks)
        for j in range(n) for k in (1, 2)
    ]
    assert _conv_names(model, binary=True) == expected_binary
    assert len(expected_binary) == 2 * sum(blocks)
    assert _conv_names(model, binary=False) == [
        'conv1', 'layer2.0.downsample.0', 'layer3.0.downsample.0',
        'layer4.0.downsample.0'
    ]
    for name in expected_binary:
        conv = model.get_submodule(name)
        assert conv.binarize_weight and conv.binarize_act
        assert conv.threshold is not None  # learnable RSign threshold


def test_every_binary_conv_gets_a_gradient():
    model = BiRealResNet(18)
    model.init_weights()
    outs = model(torch.randn(2, 3, 64, 64))
    sum(o.mean() for o in outs).backward()
    for name in _conv_names(model, binary=True):
        grad = model.get_submodule(name).weight.grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_out_indices_and_frozen_stages():
    model = BiRealResNet(18, out_indices=(1, 3), frozen_stages=1,
                         norm_eval=True)
    model.train()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [128, 512]
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert not model.conv1.weight.requires_grad
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert not model.layer3[0].bn1.training


def test_bad_arguments_are_clear_errors():
    with pytest.raises(KeyError, match='depth=50.*18, 34'):
        BiRealResNet(50)
    with pytest.raises(ValueError, match="block_act='relu'.*'rprelu'"):
        BiRealResNet(18, block_act='relu')


def test_loads_torchvision_resnet_checkpoint(tmp_path, mmdet_scope):
    """A full-precision ImageNet ResNet-18 in torchvision's key layout loads
    through init_cfg (mmdet's ResNet-18 uses the same keys)."""
    from mmdet.models import ResNet
    fp = ResNet(18)
    for m in fp.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_()
    state = fp.state_dict()
    state['fc.weight'] = torch.randn(1000, 512)
    state['fc.bias'] = torch.randn(1000)
    ckpt = tmp_path / 'resnet18.pth'
    torch.save(state, ckpt)
    model = BiRealResNet(
        18, init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    model.init_weights()
    loaded = model.state_dict()
    for key in ('conv1.weight', 'bn1.running_mean', 'layer1.0.conv1.weight',
                'layer3.1.bn2.weight', 'layer2.0.downsample.0.weight',
                'layer4.0.downsample.1.running_mean'):
        assert torch.equal(loaded[key], state[key]), key
