# Vanilla binary ResNet-18 (one shortcut per block), BinaryConnect-style STE,
# on ImageNet with Bi-Real / ReActNet's Adam recipe, from scratch.
_base_ = [
    '../../_base_/models/cls_binary_resnet18.py',
    '../../_base_/datasets/imagenet.py',
    '../../_base_/schedules/cls_imagenet_adam.py',
    '../../_base_/cls_runtime.py'
]
model = dict(
    backbone=dict(base_channels=64),
    num_classes={{_base_.num_classes}},
    data_preprocessor={{_base_.data_preprocessor}})
