# Vanilla binary ResNet-18 (one shortcut per block), BinaryConnect-style STE,
# on CIFAR-100 with the IR-Net / ReCU cosine SGD recipe, from scratch.
_base_ = [
    '../../_base_/models/cls_binary_resnet18.py',
    '../../_base_/datasets/cifar100.py',
    '../../_base_/schedules/cls_cifar_cosine.py', '../../_base_/cls_runtime.py'
]
model = dict(
    backbone=dict(base_channels=64, stem_type='cifar'),
    num_classes={{_base_.num_classes}},
    data_preprocessor={{_base_.data_preprocessor}})
