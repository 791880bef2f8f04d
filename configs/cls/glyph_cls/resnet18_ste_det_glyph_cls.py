# Pretraining for detection transfer: the vanilla binary ResNet-18 with the
# detectors' ImageNet-style stem (7x7 stride-2 conv + max-pool) at width 32, on
# GlyphCls upscaled to 64 px, so that its backbone has exactly the keys and
# shapes of configs/bench/faster_rcnn_resnet18_w32_ste_glyphcls_bench.py.
_base_ = './resnet18_ste_glyph_cls.py'
model = dict(backbone=dict(base_channels=32, stem_type='imagenet'))
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='ResizeShortEdge', size=64),
        dict(type='ClsRandomCrop', size=64, padding=4),
        dict(type='PackClsInputs')
    ]))
val_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='ResizeShortEdge', size=64),
        dict(type='PackClsInputs')
    ]))
test_dataloader = val_dataloader
