# Binary SSD300 VGG-16 (BinarySSDVGG-16 + binary SSDNeck extra layers) on
# VOC07+12, trained with the clipped straight-through estimator (hardtanh
# surrogate) on weights and activations.
_base_ = [
    './_base_/models/ssd300_binary_vgg16.py',
    './_base_/datasets/voc0712_ssd300.py',
    './_base_/schedules/schedule_bnn_ssd_voc.py', './_base_/default_runtime.py'
]

model = dict(
    bbox_head=dict(
        num_classes=20,
        anchor_generator=dict(basesize_ratio_range=(0.2, 0.9))))
