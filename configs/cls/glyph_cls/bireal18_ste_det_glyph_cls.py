# Pretraining for detection transfer: BiRealResNet-18 with the ImageNet- style
# stem at width 32 on GlyphCls upscaled to 64 px (the backbone of
# configs/bench/faster_rcnn_bireal18_ste_glyphcls_bench.py).
_base_ = './bireal18_ste_glyph_cls.py'
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
