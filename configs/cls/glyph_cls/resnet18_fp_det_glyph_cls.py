# Full-precision twin of resnet18_ste_det_glyph_cls.py (the "real weights into
# a binary backbone" baseline of the detection transfer).
_base_ = './resnet18_ste_det_glyph_cls.py'
model = dict(backbone=dict(conv_cfg=None, act='relu'))
