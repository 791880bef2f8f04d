# Full-precision Faster R-CNN R18-FPN on the synthetic demo dataset (CPU).
_base_ = [
    '../_base_/models/faster_rcnn_r18_fpn.py',
    '../_base_/datasets/demo_voc.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/demo_runtime.py'
]
model = {{_base_.demo_model_overrides}}
