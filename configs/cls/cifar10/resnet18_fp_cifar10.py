# Full-precision twin of resnet18_ste_cifar10.py.
_base_ = './resnet18_ste_cifar10.py'
model = dict(backbone=dict(conv_cfg=None, act='relu'))
