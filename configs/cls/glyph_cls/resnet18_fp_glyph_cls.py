# Full-precision twin of resnet18_ste_glyph_cls.py (ReLU ResNet-18).
_base_ = './resnet18_ste_glyph_cls.py'
model = dict(backbone=dict(conv_cfg=None, act='relu'))
