# resnet18_ste_imagenet.py at depth 34.
_base_ = './resnet18_ste_imagenet.py'
model = dict(backbone=dict(depth=34))
