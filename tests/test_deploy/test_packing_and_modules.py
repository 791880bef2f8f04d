# Copyright (c) mmbnn contributors. All rights reserved.
"""1-bit packing, ``PackedBinaryConv`` against the training layer, and
``convert_to_deploy`` on a toy model."""
import pytest
import torch
from torch import nn

from mmbnn.deploy import (PackedBinaryConv, convert_to_deploy, pack_signs,
                          unfinished_progressive_layers, unpack_signs)
from mmbnn.ops import BinaryConv


@pytest.mark.parametrize('shape', [(1, ), (7, ), (8, ), (9, ), (3, 5, 3, 3),
                                   (64, 64, 3, 3)])
def test_pack_roundtrip_is_sign_with_one_bit_per_entry(shape):
    x = torch.randn(shape)
    x.view(-1)[0] = 0.0  # sign(0) = +1
    packed = pack_signs(x)
    numel = x.numel()
    assert packed.dtype == torch.uint8
    assert packed.numel() == (numel + 7) // 8
    signs = unpack_signs(packed, shape)
    assert torch.equal(signs, torch.where(x >= 0, 1.0, -1.0))


def test_pack_layout_is_little_endian_bits():
    # +1 at flat positions 0 and 9 only -> byte0 = 0b1, byte1 = 0b10
    x = -torch.ones(16)
    x[0], x[9] = 1.0, 1.0
    assert pack_signs(x).tolist() == [1, 2]


def test_unpack_rejects_wrong_size():
    with pytest.raises(ValueError, match='needs 2 uint8 bytes'):
        unpack_signs(torch.zeros(3, dtype=torch.uint8), (16, ))


CONV_CASES = [
    dict(in_channels=8, out_channels=6, kernel_size=3, padding=1),
    dict(in_channels=8, out_channels=6, kernel_size=3, padding=1, stride=2,
         bias=False, weight_scaling='none'),
    dict(in_channels=8, out_channels=8, kernel_size=3, padding=2, dilation=2,
         groups=2, weight_scaling='learnable', act_threshold=True),
    dict(in_channels=5, out_channels=3, kernel_size=(3, 1), padding=(1, 0),
         act_threshold=True),
    dict(in_channels=6, out_channels=4, kernel_size=3, binarize_act=False),
]


@pytest.mark.parametrize('kwargs', CONV_CASES)
def test_packed_conv_reference_equals_training_layer_bitwise(kwargs):
    torch.manual_seed(0)
    conv = BinaryConv(**kwargs)
    with torch.no_grad():
        if conv.threshold is not None:
            conv.threshold.normal_(0, 0.3)
        if conv.scale is not None:
            conv.scale.mul_(torch.rand_like(conv.scale) + 0.5)
    conv.eval()
    x = torch.randn(2, conv.in_channels, 9, 7)
    x[0, 0, :2] = 0.0  # sign(0) at the border
    packed = PackedBinaryConv.from_binary_conv(conv, backend='reference')
    assert torch.equal(packed(x), conv(x))
    state = packed.state_dict()
    assert 'packed_weight' in state and 'weight' not in state


def test_packed_conv_rejects_bad_backend_and_real_weights():
    with pytest.raises(ValueError, match="backend.*'auto', 'kernel'"):
        PackedBinaryConv(4, 4, (3, 3), backend='gpu')
    conv = BinaryConv(4, 4, 3, binarize_weight=False)
    with pytest.raises(ValueError, match='does not binarize its weights'):
        PackedBinaryConv.from_binary_conv(conv)


class _Net(nn.Module):

    def __init__(self, conv_cfg: dict) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.conv1 = BinaryConv(8, 8, 3, padding=1, **conv_cfg)
        self.proj = BinaryConv(8, 4, 1, keep_real=('kernel_1x1', ))
        self.conv2 = BinaryConv(4, 4, 3, padding=1, **conv_cfg)

    def forward(self, x):
        return self.conv2(self.proj(self.conv1(self.stem(x))))


def test_convert_drops_training_state_and_keeps_predictions():
    torch.manual_seed(1)
    net = _Net(dict(compensator=dict(type='SURGE'), act_threshold=True))
    x = torch.randn(2, 3, 10, 10)
    net.train()
    net(x).sum().backward()  # SURGE copies W_a at the first step
    net.eval()
    expected = net(x)
    convert_to_deploy(net, backend='reference')
    assert isinstance(net.conv1, PackedBinaryConv)
    assert isinstance(net.conv2, PackedBinaryConv)
    # the 1x1 kept real and the real stem are untouched
    assert type(net.proj) is BinaryConv and not net.proj.is_binary
    assert type(net.stem) is nn.Conv2d
    assert not any('compensator' in k for k in net.state_dict())
    assert torch.equal(net(x), expected)


def test_convert_refuses_unfinished_stompp_unless_forced():
    net = _Net(dict(progressive=dict(type='StoMPP')))
    net.conv2.progressive.set_state(5, 0.4, 0.4, seed=0, layer_index=1)
    assert list(unfinished_progressive_layers(net)) == ['conv2']
    with pytest.raises(RuntimeError, match=r'conv2: weight frozen fraction'):
        convert_to_deploy(net)
    assert isinstance(net.conv1, BinaryConv)  # nothing converted
    convert_to_deploy(net, force=True)
    assert isinstance(net.conv2, PackedBinaryConv)


def test_finished_stompp_exports_what_it_predicts():
    torch.manual_seed(2)
    net = _Net(dict(progressive=dict(type='StoMPP')))
    net.eval()
    x = torch.randn(1, 3, 8, 8)
    expected = net(x)  # p = 1: hard binary
    assert not unfinished_progressive_layers(net)
    convert_to_deploy(net, backend='reference')
    assert torch.equal(net(x), expected)
