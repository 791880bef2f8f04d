# Binary Faster R-CNN BiRealResNet-18 + binary FPN on COCO 2017 with StoMPP
# (STE-free); the schedule ends at epoch 9 of 12.
_base_ = [
    './_base_/models/faster_rcnn_bireal_r18_fpn.py',
    './_base_/datasets/coco_detection.py',
    './_base_/schedules/schedule_bnn_coco_1x.py',
    './_base_/default_runtime.py', './_base_/stompp.py'
]

model = dict(
    backbone=dict(
        conv_cfg=dict(progressive={{_base_.stompp_progressive}})),
    neck=dict(conv_cfg=dict(progressive={{_base_.stompp_progressive}})),
    roi_head=dict(bbox_head=dict(num_classes=80)))
custom_hooks = [dict(type='StoMPPHook', begin=0, end=9, by_epoch=True)]
