# resnet18_stompp_ste_imagenet.py at depth 50.
_base_ = './resnet18_stompp_ste_imagenet.py'
model = dict(backbone=dict(depth=50))
