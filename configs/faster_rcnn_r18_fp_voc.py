# Full-precision reference: Faster R-CNN ResNet-18 + FPN on VOC07+12.
_base_ = [
    './_base_/models/faster_rcnn_r18_fpn.py',
    './_base_/datasets/voc0712.py',
    './_base_/schedules/schedule_voc_1x.py', './_base_/default_runtime.py'
]
