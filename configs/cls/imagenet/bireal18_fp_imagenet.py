# Full-precision twin of bireal18_ste_imagenet.py.
_base_ = './bireal18_ste_imagenet.py'
model = dict(backbone=dict(conv_cfg=None))
