# faster_rcnn_r18_ste_bench.py (BiRealResNet-18) at backbone width 32, the
# width of the GlyphCls-pretrained Bi-Real backbone; from scratch.
_base_ = './faster_rcnn_r18_ste_bench.py'
model = dict(
    backbone=dict(base_channels=32),
    neck=dict(in_channels=[32, 64, 128, 256]))
