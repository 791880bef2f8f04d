# bireal18_stompp_surge_cifar10.py at depth 34.
_base_ = './bireal18_stompp_surge_cifar10.py'
model = dict(backbone=dict(depth=34))
