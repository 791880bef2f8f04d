# Vanilla binary ResNet-18 (ImageNet-style stem: 7x7 stride-2 conv +
# max-pool, width 32) on GlyphCls upscaled to 64 px, BinaryConnect-style
# STE, from scratch. The backbone has the keys and shapes of the GlyphBench
# Faster R-CNN configs/bench/faster_rcnn_resnet18_w32_ste_bench.py, so its
# checkpoints initialize it (faster_rcnn_resnet18_w32_ste_glyphcls_bench.py).
_base_ = [
    '../../_base_/models/cls_binary_resnet18.py',
    '../../_base_/datasets/glyph_cls.py',
    '../../_base_/schedules/cls_glyph_cls.py', '../../_base_/cls_runtime.py'
]
model = dict(
    backbone=dict(base_channels=32, stem_type='imagenet'),
    num_classes={{_base_.num_classes}},
    data_preprocessor={{_base_.data_preprocessor}})
