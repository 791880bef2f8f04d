# resnet18_stompp_surge_glyph_cls.py at depth 34.
_base_ = './resnet18_stompp_surge_glyph_cls.py'
model = dict(backbone=dict(depth=34))
