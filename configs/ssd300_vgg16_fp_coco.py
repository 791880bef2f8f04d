# Full-precision reference: SSD300 VGG-16 on COCO 2017.
_base_ = [
    './_base_/models/ssd300_vgg16.py',
    './_base_/datasets/coco_ssd300.py',
    './_base_/schedules/schedule_ssd_coco.py', './_base_/default_runtime.py'
]

model = dict(bbox_head=dict(num_classes=80))
