# Full-precision reference: Faster R-CNN ResNet-18 + FPN on COCO 2017.
_base_ = [
    './_base_/models/faster_rcnn_r18_fpn.py',
    './_base_/datasets/coco_detection.py',
    './_base_/schedules/schedule_coco_1x.py', './_base_/default_runtime.py'
]

model = dict(roi_head=dict(bbox_head=dict(num_classes=80)))
