# resnet18_surge_cifar10.py at depth 34.
_base_ = './resnet18_surge_cifar10.py'
model = dict(backbone=dict(depth=34))
