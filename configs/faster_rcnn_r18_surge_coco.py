# Binary Faster R-CNN BiRealResNet-18 + binary FPN on COCO 2017, compensated
# by SURGE.
_base_ = [
    './_base_/models/faster_rcnn_bireal_r18_fpn.py',
    './_base_/datasets/coco_detection.py',
    './_base_/schedules/schedule_bnn_coco_1x.py',
    './_base_/default_runtime.py', './_base_/surge.py'
]

model = dict(
    backbone=dict(
        conv_cfg=dict(compensator={{_base_.surge_compensator}})),
    neck=dict(conv_cfg=dict(compensator={{_base_.surge_compensator}})),
    roi_head=dict(bbox_head=dict(num_classes=80)))
custom_hooks = [{{_base_.surge_hook}}]
