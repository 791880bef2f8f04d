# Full-precision twin of bireal18_ste_glyph_cls.py (same blocks, real convs).
_base_ = './bireal18_ste_glyph_cls.py'
model = dict(backbone=dict(conv_cfg=None))
