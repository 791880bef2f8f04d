# resnet18_stompp_glyph_cls.py at depth 50.
_base_ = './resnet18_stompp_glyph_cls.py'
model = dict(backbone=dict(depth=50))
