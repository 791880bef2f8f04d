# Copyright (c) mmbnn contributors. All rights reserved.
"""BinarySSDVGG: SSDVGG's outputs and key layout, what it binarizes, its
shortcuts, FP VGG-16 loading through init_cfg; FixedSSDHead predicts."""
import pytest
import torch
from mmdet.models.backbones import SSDVGG

from mmbnn.models import BinarySSDVGG, ConvPostProcess
from mmbnn.ops import BinaryConv

BINARY = dict(type='BinaryConv', act_threshold=True)


def _ssd_vgg():
    return SSDVGG(depth=16, with_last_pool=False, ceil_mode=True,
                  out_indices=(3, 4), out_feature_indices=(22, 34))


@pytest.mark.parametrize('size', [300, 128])
def test_outputs_match_ssdvgg(size):
    x = torch.randn(1, 3, size, size)
    ours = BinarySSDVGG(conv_cfg=BINARY)
    ref = _ssd_vgg()
    assert [o.shape for o in ours(x)] == [o.shape for o in ref(x)]


def test_binarizes_all_convs_but_the_first():
    model = BinarySSDVGG(conv_cfg=BINARY)
    binary = [n for n, m in model.named_modules()
              if isinstance(m, BinaryConv) and m.is_binary]
    assert binary == [f'features.{i}' for i in
                      (2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33)]
    assert type(model.features[0]) is torch.nn.Conv2d
    fc6 = model.features[31]
    assert fc6.dilation == (6, 6) and fc6.padding == (6, 6)


def test_shortcuts_identity_and_channel_repeat():
    model = BinarySSDVGG(conv_cfg=BINARY)
    repeats = {i: m.repeats for i, m in enumerate(model.features)
               if isinstance(m, ConvPostProcess)}
    # conv1_1 (RGB) none; channel doublings repeat x2; the rest identity
    assert repeats[1] == 0
    assert {i for i, r in repeats.items() if r == 2} == {6, 11, 18, 32}
    assert all(r == 1 for i, r in repeats.items()
               if i not in (1, 6, 11, 18, 32))
    post = ConvPostProcess(4, 8, 'repeat', dict(type='BN'), 'identity')
    post.eval()
    x = torch.randn(1, 4, 3, 3)
    y = torch.zeros(1, 8, 3, 3)
    assert torch.allclose(post(y, x), torch.cat([x, x], 1), atol=1e-4)
    none = BinarySSDVGG(conv_cfg=BINARY, shortcut='none')
    assert all(m.repeats == 0 for m in none.modules()
               if isinstance(m, ConvPostProcess))


def test_loads_full_precision_vgg16_through_init_cfg(tmp_path):
    ref = _ssd_vgg()
    path = str(tmp_path / 'vgg16_fp.pth')
    torch.save({'state_dict': ref.state_dict()}, path)
    ours = BinarySSDVGG(
        conv_cfg=BINARY, init_cfg=dict(type='Pretrained', checkpoint=path))
    ours.init_weights()
    for key, value in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key


def test_bad_arguments_name_the_key():
    with pytest.raises(ValueError, match='depth=19; allowed values: 16'):
        BinarySSDVGG(depth=19)
    with pytest.raises(ValueError, match='shortcut'):
        BinarySSDVGG(shortcut='dense')


def test_fixed_ssd_head_predicts_where_mmdet_head_cannot(mmdet_scope):
    from mmdet.models.dense_heads import SSDHead
    from mmdet.registry import MODELS
    from mmengine.config import ConfigDict
    cfg = dict(in_channels=(8, 8), num_classes=3,
               anchor_generator=dict(
                   type='SSDAnchorGenerator', scale_major=False,
                   input_size=64, strides=[8, 16], ratios=[[2], [2]],
                   min_sizes=[16, 32], max_sizes=[32, 64]),
               test_cfg=ConfigDict(
                   nms_pre=100, nms=dict(type='nms', iou_threshold=0.45),
                   min_bbox_size=0, score_thr=0.02, max_per_img=10))
    feats = (torch.randn(1, 8, 8, 8), torch.randn(1, 8, 4, 4))
    metas = [dict(img_shape=(64, 64), scale_factor=(1.0, 1.0))]
    upstream = SSDHead(**cfg)
    assert not hasattr(upstream, 'loss_cls')  # open-mmlab/mmdetection#11780
    with pytest.raises(AttributeError, match='loss_cls'):
        upstream.predict_by_feat(*upstream(feats), batch_img_metas=metas)
    fixed = MODELS.build(dict(cfg, type='FixedSSDHead'))
    fixed.load_state_dict(upstream.state_dict())
    results = fixed.predict_by_feat(*fixed(feats), batch_img_metas=metas)
    assert results[0].bboxes.shape[1] == 4


def test_deploy_conversion_keeps_the_outputs():
    from mmbnn.deploy import convert_to_deploy, kernel_available
    torch.manual_seed(0)
    model = BinarySSDVGG(conv_cfg=BINARY, base_channels=16)
    model.init_weights()
    for m in model.modules():  # non-trivial BN statistics and thresholds
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
        if isinstance(m, BinaryConv) and m.threshold is not None:
            m.threshold.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        before = model(x)
        convert_to_deploy(model, backend='reference')
        after = model(x)
    for a, b in zip(before, after):
        assert torch.equal(b, a)
    if kernel_available():
        from ..test_deploy.kernel_check import assert_kernel_matches_reference
        assert_kernel_matches_reference(model, lambda: model(x), 14)
