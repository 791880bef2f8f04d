# Full-precision twin of resnet18_ste_imagenet.py.
_base_ = './resnet18_ste_imagenet.py'
model = dict(backbone=dict(conv_cfg=None, act='relu'))
