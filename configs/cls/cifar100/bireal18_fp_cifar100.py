# Full-precision twin of bireal18_ste_cifar100.py.
_base_ = './bireal18_ste_cifar100.py'
model = dict(backbone=dict(conv_cfg=None))
