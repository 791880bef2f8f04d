# BiRealResNet-18 (CIFAR stem, width 8) on GlyphCls, clipped STE, from scratch;
# the schedule of the vanilla ResNets.
_base_ = [
    '../../_base_/models/cls_bireal_resnet18.py',
    '../../_base_/datasets/glyph_cls.py',
    '../../_base_/schedules/cls_glyph_cls.py', '../../_base_/cls_runtime.py'
]
model = dict(
    backbone=dict(base_channels=8, stem_type='cifar'),
    num_classes={{_base_.num_classes}},
    data_preprocessor={{_base_.data_preprocessor}})
