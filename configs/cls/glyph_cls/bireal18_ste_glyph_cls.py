# BiRealResNet-18 (ImageNet-style stem, width 32) on GlyphCls upscaled to
# 64 px, clipped STE, from scratch; the schedule of the vanilla ResNets.
# Its checkpoints initialize
# configs/bench/faster_rcnn_r18_w32_ste_glyphcls_bench.py.
_base_ = [
    '../../_base_/models/cls_bireal_resnet18.py',
    '../../_base_/datasets/glyph_cls.py',
    '../../_base_/schedules/cls_glyph_cls.py', '../../_base_/cls_runtime.py'
]
model = dict(
    backbone=dict(base_channels=32, stem_type='imagenet'),
    num_classes={{_base_.num_classes}},
    data_preprocessor={{_base_.data_preprocessor}})
