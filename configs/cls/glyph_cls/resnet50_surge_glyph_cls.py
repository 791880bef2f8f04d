# resnet18_surge_glyph_cls.py at depth 50.
_base_ = './resnet18_surge_glyph_cls.py'
model = dict(backbone=dict(depth=50))
