# Binary Faster R-CNN ResNet-18 + FPN (BiRealResNet-18 + binary FPN) on COCO
# 2017, trained with the clipped straight-through estimator (hardtanh
# surrogate) on weights and activations.
_base_ = [
    './_base_/models/faster_rcnn_bireal_r18_fpn.py',
    './_base_/datasets/coco_detection.py',
    './_base_/schedules/schedule_bnn_coco_1x.py', './_base_/default_runtime.py'
]

model = dict(roi_head=dict(bbox_head=dict(num_classes=80)))
