# bireal18_fp_imagenet.py at depth 34.
_base_ = './bireal18_fp_imagenet.py'
model = dict(backbone=dict(depth=34))
