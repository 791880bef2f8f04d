# Copyright (c) mmbnn contributors. All rights reserved.
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer
from mmengine.registry import MODELS as ROOT_MODELS
from torch import nn

from mmbnn.ops import BinaryConv, hard_sign

CONV_SETTINGS = [
    dict(stride=s, padding=p, dilation=d, groups=g, bias=b)
    for s, p, d, g, b in itertools.product((1, 2), (0, 2), (1, 2), (1, 2),
                                           (False, True))
]


def _copy_conv(src: nn.Conv2d, **kwargs) -> nn.Conv2d:
    ref = nn.Conv2d(src.in_channels, src.out_channels, src.kernel_size,
                    **kwargs)
    ref.load_state_dict(src.state_dict(), strict=False)
    return ref


def test_registered_in_root_registry():
    assert ROOT_MODELS.get('BinaryConv') is BinaryConv
    assert issubclass(BinaryConv, nn.Conv2d)


@pytest.mark.parametrize('cfg', CONV_SETTINGS)
def test_real_valued_setting_matches_conv2d(cfg):
    conv = BinaryConv(4, 6, 3, binarize_weight=False, binarize_act=False,
                      **cfg)
    ref = _copy_conv(conv, **cfg)
    x = torch.randn(2, 4, 9, 9)
    assert torch.equal(conv(x), ref(x))


@pytest.mark.parametrize('cfg', CONV_SETTINGS)
def test_binary_forward_respects_conv_arguments(cfg):
    conv = BinaryConv(4, 6, 3, weight_scaling='none', **cfg)
    # a +-1 input and +-1 weights are fixed points of the binarizers, so the
    # binary conv must equal nn.Conv2d with the same arguments
    with torch.no_grad():
        conv.weight.copy_(hard_sign(torch.randn_like(conv.weight)))
    ref = _copy_conv(conv, **cfg)
    x = hard_sign(torch.randn(2, 4, 9, 9))
    torch.testing.assert_close(conv(x), ref(x))


def test_binary_forward_values():
    conv = BinaryConv(3, 5, 3, padding=1, bias=True)
    x = torch.randn(2, 3, 8, 8)
    w = conv.weight.detach()
    alpha = w.abs().mean(dim=(1, 2, 3), keepdim=True)
    expected = F.conv2d(
        torch.where(x >= 0, 1.0, -1.0), alpha * torch.where(w >= 0, 1.0,
                                                            -1.0),
        conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)


def test_weight_scalings_and_gradients():
    x = torch.randn(2, 3, 6, 6)
    none = BinaryConv(3, 4, 3, weight_scaling='none')
    assert set(none.binary_weight().abs().flatten().tolist()) == {1.0}

    learn = BinaryConv(3, 4, 3, weight_scaling='learnable')
    alpha = learn.weight.abs().mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(learn.scale.data, alpha)
    learn(x).sum().backward()
    assert learn.scale.grad is not None and learn.scale.grad.abs().sum() > 0

    # clipped surrogate on weights: grad = alpha * dL/dWb where |W| <= 1
    conv = BinaryConv(3, 4, 3, weight_surrogate='clipped',
                      binarize_act=False)
    with torch.no_grad():
        conv.weight[0, 0, 0, 0] = 2.0  # outside the clip range
    wb = conv.binary_weight().detach().requires_grad_(True)
    F.conv2d(x, wb).sum().backward()
    conv(x).sum().backward()
    a = conv.weight.abs().mean(dim=(1, 2, 3), keepdim=True).detach()
    expected = wb.grad * a * (conv.weight.abs() <= 1)
    torch.testing.assert_close(conv.weight.grad, expected)
    assert conv.weight.grad[0, 0, 0, 0] == 0


def test_activation_threshold_is_rsign():
    conv = BinaryConv(3, 4, 1, act_threshold=True, weight_scaling='none')
    with torch.no_grad():
        conv.threshold.copy_(torch.tensor([0.5, -0.5, 0.0]).view(1, 3, 1, 1))
    x = torch.randn(2, 3, 5, 5)
    assert torch.equal(conv.binary_input(x),
                       hard_sign(x - conv.threshold.detach()))
    conv(x).sum().backward()
    assert conv.threshold.grad.shape == (1, 3, 1, 1)


def test_keep_real_rules():
    conv1x1 = BinaryConv(8, 8, 1, keep_real=('kernel_1x1', ))
    assert not conv1x1.is_binary
    x = torch.randn(1, 8, 4, 4)
    assert torch.equal(conv1x1(x), _copy_conv(conv1x1)(x))
    assert conv1x1.threshold is None and conv1x1.scale is None
    assert 'real-valued' in repr(conv1x1)

    stem = BinaryConv(3, 8, 3, keep_real='rgb_input')
    assert not stem.is_binary
    assert BinaryConv(8, 8, 3, keep_real=('kernel_1x1', 'rgb_input')).is_binary

    with pytest.raises(ValueError, match="keep_real='1x1'.*'kernel_1x1'"):
        BinaryConv(8, 8, 1, keep_real=('1x1', ))


@pytest.mark.parametrize('key', ['weight_surrogate', 'act_surrogate'])
def test_bad_surrogate_name_is_a_clear_error(key):
    with pytest.raises(ValueError,
                       match=f"{key}='ste'.*'identity'.*'clipped'"):
        BinaryConv(4, 4, 3, **{key: 'ste'})


def test_bad_scaling_is_a_clear_error():
    with pytest.raises(ValueError, match="weight_scaling='l1'.*'mean_abs'"):
        BinaryConv(4, 4, 3, weight_scaling='l1')


def test_extra_repr_shows_binarization():
    conv = BinaryConv(4, 4, 3, act_surrogate='approx_sign',
                      act_threshold=True)
    text = repr(conv)
    assert 'weight=sign[clipped]*mean_abs' in text
    assert 'act=sign[approx_sign]-threshold' in text


@pytest.mark.parametrize('scoped', [False, True])
def test_build_conv_layer_finds_it(scoped, request):
    if scoped:
        request.getfixturevalue('mmdet_scope')
    conv = build_conv_layer(
        dict(type='BinaryConv', act_surrogate='approx_sign'), 4, 8, 3,
        stride=2, padding=2, dilation=2, groups=2, bias=False)
    assert isinstance(conv, BinaryConv)
    assert (conv.stride, conv.padding, conv.dilation, conv.groups) == \
        ((2, 2), (2, 2), (2, 2), 2)
    assert conv.bias is None and conv.act_surrogate == 'approx_sign'


def test_fpn_binarized_through_conv_cfg(mmdet_scope):
    from mmdet.registry import MODELS
    fpn = MODELS.build(
        dict(type='FPN', in_channels=[8, 16, 32, 64], out_channels=16,
             num_outs=5, conv_cfg=dict(type='BinaryConv')))
    convs = [m for m in fpn.modules() if isinstance(m, BinaryConv)]
    assert len(convs) == 8 and all(c.is_binary for c in convs)
    feats = [torch.randn(1, c, 32 // 2**i, 32 // 2**i)
             for i, c in enumerate([8, 16, 32, 64])]
    outs = fpn(feats)
    assert [o.shape[-1] for o in outs] == [32, 16, 8, 4, 2]
    sum(o.sum() for o in outs).backward()
    assert all(c.weight.grad.abs().sum() > 0 for c in convs)


def test_ssd_neck_binarized_through_conv_cfg(mmdet_scope):
    from mmdet.registry import MODELS
    neck = MODELS.build(
        dict(type='SSDNeck', in_channels=(32, 64),
             out_channels=(32, 64, 32, 16), level_strides=(2, 1),
             level_paddings=(1, 0), l2_norm_scale=20.,
             conv_cfg=dict(type='BinaryConv')))
    convs = [m for m in neck.modules() if isinstance(m, BinaryConv)]
    assert len(convs) == 4  # two ConvModules per extra level
    outs = neck((torch.randn(1, 32, 10, 10), torch.randn(1, 64, 5, 5)))
    assert [o.shape[1] for o in outs] == [32, 64, 32, 16]


NONFINITE_CONFIGS = {
    'STE': {},
    'threshold': dict(act_threshold=True),
    'SURGE': dict(compensator=dict(type='SURGE')),
    'StoMPP': dict(progressive=dict(type='StoMPP')),
}


@pytest.mark.parametrize('name', sorted(NONFINITE_CONFIGS))
@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_nonfinite_flag_records_bad_training_inputs(name, bad):
    conv = BinaryConv(4, 4, 3, padding=1, **NONFINITE_CONFIGS[name]).train()
    conv.check_nonfinite = True
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    conv(x).sum().backward()
    assert not bool(conv.nonfinite)  # no false positive on finite inputs
    x_bad = x.detach().clone()
    x_bad[1, 2, 3, 4] = bad
    conv(x_bad)
    assert bool(conv.nonfinite)
    conv(x)  # the flag accumulates until the hook reads it
    assert bool(conv.nonfinite)
    assert 'nonfinite' not in conv.state_dict()


def test_nonfinite_flag_only_in_training_and_when_enabled():
    x = torch.randn(1, 4, 5, 5)
    x[0, 0, 0, 0] = float('nan')
    conv = BinaryConv(4, 4, 3).train()
    conv(x)  # the check is off until NonFiniteCheckHook turns it on
    assert not bool(conv.nonfinite)
    conv.check_nonfinite = True
    conv.eval()(x)  # evaluation, export and deploy never write it
    assert not bool(conv.nonfinite)
    real = BinaryConv(3, 4, 3, keep_real=('rgb_input', )).train()
    real.check_nonfinite = True
    real(torch.full((1, 3, 4, 4), float('nan')))  # a plain conv: NaN shows
    assert not bool(real.nonfinite)


def test_nonfinite_check_leaves_outputs_and_gradients_unchanged():
    torch.manual_seed(0)
    conv = BinaryConv(4, 4, 3, padding=1).train()
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    out = conv(x)
    out.sum().backward()
    grad, x.grad = x.grad.clone(), None
    conv.check_nonfinite = True
    checked = conv(x)
    checked.sum().backward()
    assert torch.equal(out, checked)
    assert torch.equal(grad, x.grad)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason='CUDA is not available')
def test_nonfinite_flag_needs_no_host_synchronisation():
    """Training steps with the check on make no synchronising CUDA call;
    the flags are read once afterwards."""
    torch.manual_seed(0)
    convs = nn.Sequential(*[
        BinaryConv(8, 8, 3, padding=1, **cfg)
        for cfg in NONFINITE_CONFIGS.values()
    ]).cuda().train()
    for conv in convs:
        conv.check_nonfinite = True
    x = torch.randn(2, 8, 12, 12, device='cuda')
    convs(x).sum().backward()  # first step: SURGE copies its weights
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        for _ in range(2):
            convs(x).sum().backward()
        convs(torch.where(x > 2, float('nan'), x)).sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode('default')
    flags = torch.stack([conv.nonfinite for conv in convs]).cpu()
    # sign turns the NaNs into +-1: only the first conv sees them
    assert flags.tolist() == [True] + [False] * (len(convs) - 1)
