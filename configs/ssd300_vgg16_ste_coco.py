# Binary SSD300 VGG-16 (BinarySSDVGG-16 + binary SSDNeck extra layers) on COCO
# 2017, trained with the clipped straight-through estimator (hardtanh
# surrogate) on weights and activations.
_base_ = [
    './_base_/models/ssd300_binary_vgg16.py',
    './_base_/datasets/coco_ssd300.py',
    './_base_/schedules/schedule_bnn_ssd_coco.py',
    './_base_/default_runtime.py'
]

model = dict(bbox_head=dict(num_classes=80))
