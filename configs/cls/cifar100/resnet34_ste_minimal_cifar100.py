# resnet18_ste_minimal_cifar100.py at depth 34.
_base_ = './resnet18_ste_minimal_cifar100.py'
model = dict(backbone=dict(depth=34))
