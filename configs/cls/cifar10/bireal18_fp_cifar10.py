# Full-precision twin of bireal18_ste_cifar10.py.
_base_ = './bireal18_ste_cifar10.py'
model = dict(backbone=dict(conv_cfg=None))
