# bireal18_ste_cifar100.py at depth 34.
_base_ = './bireal18_ste_cifar100.py'
model = dict(backbone=dict(depth=34))
