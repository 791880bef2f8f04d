# Binary Faster R-CNN with the vanilla BinaryResNet-18 + binary FPN on
# COCO 2017, initialized from a binary ImageNet classifier of
# configs/cls/imagenet/resnet18_ste_imagenet.py (BinaryPretrained); point
# model.backbone.init_cfg.checkpoint at your checkpoint.
_base_ = [
    './_base_/models/faster_rcnn_binary_resnet18_fpn.py',
    './_base_/datasets/coco_detection.py',
    './_base_/schedules/schedule_bnn_coco_1x.py', './_base_/default_runtime.py'
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='BinaryPretrained',
            checkpoint='checkpoints/resnet18_ste_imagenet.pth',
            prefix='backbone.')),
    roi_head=dict(bbox_head=dict(num_classes=80)))
