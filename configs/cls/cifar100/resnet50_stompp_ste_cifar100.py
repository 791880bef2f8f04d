# resnet18_stompp_ste_cifar100.py at depth 50.
_base_ = './resnet18_stompp_ste_cifar100.py'
model = dict(backbone=dict(depth=50))
