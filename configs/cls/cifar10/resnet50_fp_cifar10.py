# resnet18_fp_cifar10.py at depth 50.
_base_ = './resnet18_fp_cifar10.py'
model = dict(backbone=dict(depth=50))
