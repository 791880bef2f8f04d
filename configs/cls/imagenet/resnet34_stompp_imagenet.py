# resnet18_stompp_imagenet.py at depth 34.
_base_ = './resnet18_stompp_imagenet.py'
model = dict(backbone=dict(depth=34))
