# Copyright (c) mmbnn contributors. All rights reserved.
"""The fused deploy form: BN folding, fused shortcut adds / activations and
pooling equal the unfused deploy model block by block (to float rounding),
exports with ``fuse=True`` reload to the same fused model, and the kernel
matches the reference layer by layer."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmbnn.deploy import (PackedBinaryConv, convert_to_deploy,
                          export_deploy_checkpoint, kernel_available,
                          load_deploy_model)
from mmbnn.deploy.fusion import (FUSION_RULES, FusedMaxPool2d,
                                 FusedRoIAlign, fold_bn_into_conv,
                                 fold_bn_into_packed, fuse_deploy_model,
                                 fusion_rule_for, register_fusion_rule)
from mmbnn.deploy.real_ops import CPUMaxPool2d, CPURoIAlign
from mmbnn.models.backbones.binary_ssd_vgg_fusion import (FusedConvUnit,
                                                          FusedRealConvUnit)
from mmbnn.models.backbones.bireal_resnet import (BiRealBasicBlock,
                                                  BiRealResNet)
from mmbnn.models.backbones.bireal_resnet_fusion import (FusedBiRealBlock,
                                                         FusedDownsample,
                                                         avg_pool_shortcut)
from mmbnn.ops import BinaryConv

from ..conftest import REPO_ROOT
from .kernel_check import (assert_fused_blocks_match,
                           assert_kernel_matches_reference)
from .test_export_families import KEEP_ALL, _randomized_checkpoint

# relative tolerance of a fused layer against the unfused one on the same
# input: folding the BN changes float32 rounding by a few ulps
FOLD_TOL = 1e-5


def _random_bn(channels: int, gen: torch.Generator) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(channels)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(channels, generator=gen))
        bn.running_var.copy_(torch.rand(channels, generator=gen) + 0.2)
        # negative gammas flip the folded scale's sign
        bn.weight.copy_(torch.randn(channels, generator=gen))
        bn.bias.copy_(torch.randn(channels, generator=gen))
    return bn.eval()


def _assert_close_relative(got, expected, tol=FOLD_TOL, msg=''):
    scale = float(expected.abs().max().clamp_min(1.0))
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol * scale,
                               msg=lambda m: f'{msg}: {m}')


@pytest.mark.parametrize('scaling', ['mean_abs', 'none', 'learnable'])
@pytest.mark.parametrize('bias', [False, True])
def test_fold_bn_into_packed_conv(scaling, bias):
    gen = torch.Generator().manual_seed(0)
    conv = BinaryConv(24, 16, 3, padding=1, bias=bias, weight_scaling=scaling,
                      act_threshold=True).eval()
    with torch.no_grad():
        conv.threshold.uniform_(-0.2, 0.2, generator=gen)
        if conv.scale is not None:
            conv.scale.uniform_(0.5, 1.5, generator=gen)
    packed = PackedBinaryConv.from_binary_conv(conv, backend='reference')
    bn = _random_bn(16, gen)
    x = torch.randn(2, 24, 9, 7, generator=gen)
    with torch.no_grad():
        expected = bn(packed(x))
        fold_bn_into_packed(packed, bn)
        assert packed.scale is not None and packed.bias is not None
        _assert_close_relative(packed(x), expected, msg='reference')
        if kernel_available():
            packed.backend = 'kernel'
            _assert_close_relative(packed(x), expected, msg='kernel')


def test_fold_bn_into_real_conv():
    gen = torch.Generator().manual_seed(1)
    conv = nn.Conv2d(8, 12, 1, bias=False)
    bn = _random_bn(12, gen)
    x = torch.randn(1, 8, 5, 5, generator=gen)
    with torch.no_grad():
        expected = bn(conv(x))
        fold_bn_into_conv(conv, bn)
        _assert_close_relative(conv(x), expected)


def test_fold_refuses_bn_without_statistics():
    conv = nn.Conv2d(4, 4, 1)
    bn = nn.BatchNorm2d(4, track_running_stats=False)
    with pytest.raises(ValueError, match='running statistics'):
        fold_bn_into_conv(conv, bn)


@pytest.mark.parametrize('block_act', ['rprelu', 'prelu', 'hardtanh',
                                       'identity'])
@pytest.mark.parametrize('stride,in_ch', [(1, 16), (2, 16)])
def test_fused_block_equals_block(block_act, stride, in_ch):
    gen = torch.Generator().manual_seed(2)
    block = BiRealBasicBlock(in_ch, 32 if stride == 2 else 16, stride,
                             conv_cfg=dict(type='BinaryConv'),
                             block_act=block_act)
    with torch.no_grad():
        for name, module in block.named_modules():
            if isinstance(module, nn.BatchNorm2d):
                bn = _random_bn(module.num_features, gen)
                module.load_state_dict(bn.state_dict())
            for p in module.parameters(recurse=False):
                if 'shift' in name or 'prelu' in name or 'act' in name:
                    p.uniform_(-0.3, 0.3, generator=gen)
    block.eval()
    deploy = convert_to_deploy(copy.deepcopy(block), backend='reference')
    x = torch.randn(2, in_ch, 12, 10, generator=gen)
    with torch.no_grad():
        expected = deploy(x)
        fused = FusedBiRealBlock(copy.deepcopy(deploy)).eval()
        if block_act in ('rprelu', 'prelu', 'identity'):
            assert isinstance(fused.act1, nn.Identity)
        if stride == 2:
            assert isinstance(fused.downsample, FusedDownsample)
        _assert_close_relative(fused(x), expected, msg='reference')
        if kernel_available():
            for m in fused.modules():
                if isinstance(m, PackedBinaryConv):
                    m.backend = 'kernel'
            _assert_close_relative(fused(x), expected, msg='kernel')


@pytest.mark.parametrize('shape', [(1, 3, 8, 8), (2, 4, 7, 9), (1, 2, 6, 5)])
def test_pooling_replacements_are_exact(shape):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(shape, generator=gen)
    for stride in (1, 2, 3):
        assert torch.equal(
            avg_pool_shortcut(x, stride),
            x if stride == 1 else torch.nn.functional.avg_pool2d(
                x, stride, stride, ceil_mode=True, count_include_pad=False))
    for pool in (nn.MaxPool2d(3, 2, 1), nn.MaxPool2d(2, 2, ceil_mode=True)):
        with torch.no_grad():
            assert torch.equal(CPUMaxPool2d.from_module(pool)(x), pool(x))


def test_fuse_deploy_model_replaces_what_it_knows():
    torch.manual_seed(0)
    model = convert_to_deploy(BiRealResNet(depth=18).eval(), fuse=True)
    assert model.deploy_fused
    assert isinstance(model.bn1, nn.Identity) and model.conv1.bias is not None
    assert isinstance(model.maxpool, CPUMaxPool2d)
    blocks = [m for m in model.modules() if isinstance(m, FusedBiRealBlock)]
    assert len(blocks) == 8
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert all(m.act_slope is not None for m in model.modules()
               if isinstance(m, PackedBinaryConv))


FUSED_CONFIGS = [
    'configs/faster_rcnn_r18_ste_binrpn_voc.py',
    'configs/faster_rcnn_r34_surge_voc.py',
    'configs/ssd300_vgg16_ste_voc.py',
    'configs/demo/faster_rcnn_r18_ste_demo.py',
    'configs/demo/ssd_vgg16_ste_demo.py',
]


@pytest.mark.parametrize('config', FUSED_CONFIGS)
def test_fused_export_matches_unfused_block_by_block(config, tmp_path):
    from mmdet.apis import inference_detector
    path = osp.join(REPO_ROOT, config)
    family = 'ssd' if 'ssd' in osp.basename(config) else 'faster_rcnn'
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(KEEP_ALL[family])
    ckpt = str(tmp_path / 'model.pth')
    trained = _randomized_checkpoint(cfg, ckpt)
    binary = sum(isinstance(m, BinaryConv) and m.is_binary
                 for m in trained.modules())
    out = str(tmp_path / 'deploy_fused.pth')
    report = export_deploy_checkpoint(path, ckpt, out, fuse=True,
                                      cfg_options=KEEP_ALL[family])
    assert report['binary_layers'] == binary
    fused = load_deploy_model(out, backend='reference')
    assert torch.load(out, weights_only=True)['meta']['fused'] is True
    units = [m for m in fused.modules() if isinstance(
        m, (FusedBiRealBlock, FusedConvUnit, FusedRealConvUnit))]
    assert len(units) > 0
    if family == 'faster_rcnn':
        assert sum(isinstance(m, CPURoIAlign) for m in fused.modules()) == 4

    # the unfused deploy model of the same weights, and its fused form
    # made in memory: the reloaded fused model is that one, bit for bit
    unfused = copy.deepcopy(trained)
    convert_to_deploy(unfused, backend='reference')
    in_memory = fuse_deploy_model(copy.deepcopy(unfused))
    image = np.random.default_rng(0).integers(
        0, 256, (160, 224, 3), dtype=np.uint8)
    with torch.no_grad():
        a = inference_detector(in_memory, image).pred_instances
        b = inference_detector(fused, image).pred_instances
    assert len(a) > 0
    assert torch.equal(a.bboxes, b.bboxes) and torch.equal(a.scores, b.scores)

    # block by block on the unfused model's own activations
    assert_fused_blocks_match(
        unfused, fused, lambda model: inference_detector(model, image),
        FOLD_TOL) == len(units)

    if kernel_available():
        assert_kernel_matches_reference(
            fused, lambda: inference_detector(fused, image), binary)


def test_replace_real_ops_keeps_fp_detections(tmp_path):
    from mmdet.apis import inference_detector

    from mmbnn.deploy.real_ops import replace_real_ops
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_fp_demo.py'))
    cfg.merge_from_dict(KEEP_ALL['faster_rcnn'])
    torch.manual_seed(0)
    model = _randomized_checkpoint(cfg, str(tmp_path / 'fp.pth'))
    fast = replace_real_ops(copy.deepcopy(model))
    assert sum(isinstance(m, CPURoIAlign) for m in fast.modules()) == 4
    assert sum(isinstance(m, CPUMaxPool2d) for m in fast.modules()) >= 1
    image = np.random.default_rng(1).integers(
        0, 256, (160, 224, 3), dtype=np.uint8)
    with torch.no_grad():
        a = inference_detector(model, image).pred_instances
        b = inference_detector(fast, image).pred_instances
    assert len(a) > 0
    assert torch.equal(a.bboxes, b.bboxes) and torch.equal(a.scores, b.scores)


def test_fusion_rules_are_registered_by_module_class(monkeypatch):
    """Each backbone brings its rule; the driver applies a rule to the
    module's class or its nearest registered base, parents first, and does
    not descend into a replacement."""
    from mmbnn.deploy import fusion
    from mmbnn.models.backbones.binary_ssd_vgg import BinarySSDVGG
    assert {BiRealResNet, BiRealBasicBlock, BinarySSDVGG} <= set(FUSION_RULES)

    class Inner(nn.Module):
        pass

    class Outer(nn.Sequential):
        pass

    class OuterChild(Outer):
        pass

    class Parent(nn.Sequential):
        pass

    calls, rules = [], {}
    monkeypatch.setattr(fusion, 'FUSION_RULES', rules)
    register_fusion_rule(Inner)(lambda m: calls.append(('inner', m)))
    register_fusion_rule(Parent)(lambda m: calls.append(('parent', m)))

    @register_fusion_rule(Outer)
    def replace_outer(module):
        calls.append(('outer', module))
        return nn.Sequential(nn.Identity())

    with pytest.raises(KeyError, match='Inner already has a fusion rule'):
        register_fusion_rule(Inner)(lambda m: None)
    with pytest.raises(KeyError, match='Inner already has a fusion rule'):
        register_fusion_rule(nn.ReLU, Inner)(lambda m: None)
    assert set(rules) == {Inner, Outer, Parent}
    for bad in ((), (int, ), (nn.ReLU(), )):
        with pytest.raises(TypeError, match='nn.Module subclasses'):
            register_fusion_rule(*bad)
    inner, replaced = Inner(), OuterChild(Inner())
    assert fusion_rule_for(replaced) is replace_outer
    assert fusion_rule_for(nn.ReLU()) is None
    model = Parent(inner, replaced, nn.MaxPool2d(2))
    assert fuse_deploy_model(model) is model and model.deploy_fused
    # the parent first; the replaced module's own Inner child never
    assert [name for name, _ in calls] == ['parent', 'inner', 'outer']
    assert calls[1][1] is inner
    assert type(model[1]) is nn.Sequential
    assert isinstance(model[2], CPUMaxPool2d)


def test_former_real_op_names_are_aliases():
    assert FusedMaxPool2d is CPUMaxPool2d and FusedRoIAlign is CPURoIAlign
    from mmbnn.ops import float_kernels, xnor
    assert xnor.roi_align is float_kernels.roi_align
