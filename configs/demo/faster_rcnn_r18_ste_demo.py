# Binary (clipped STE) Faster R-CNN BiRealResNet-18 + binary FPN on the
# synthetic demo dataset (CPU); same budget as faster_rcnn_r18_fp_demo.py.
_base_ = [
    '../_base_/models/faster_rcnn_bireal_r18_fpn.py',
    '../_base_/datasets/demo_voc.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/demo_runtime.py'
]
model = {{_base_.demo_model_overrides}}
