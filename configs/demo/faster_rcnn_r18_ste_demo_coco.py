# faster_rcnn_r18_ste_demo.py on the COCO layout of the demo dataset,
# evaluated with mmdet's CocoMetric (bbox AP, AP50, AP75, APs/m/l).
_base_ = [
    '../_base_/models/faster_rcnn_bireal_r18_fpn.py',
    '../_base_/datasets/demo_coco.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/demo_runtime.py'
]
model = {{_base_.demo_model_overrides}}
