# Binary Faster R-CNN ResNet-18 + FPN (BiRealResNet-18 + binary FPN) on
# VOC07+12, trained with the clipped straight-through estimator (hardtanh
# surrogate) on weights and activations.
_base_ = [
    './_base_/models/faster_rcnn_bireal_r18_fpn.py',
    './_base_/datasets/voc0712.py',
    './_base_/schedules/schedule_bnn_voc_1x.py', './_base_/default_runtime.py'
]
