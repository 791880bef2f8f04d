# SURGE on the synthetic demo dataset (CPU); same budget as
# faster_rcnn_r18_ste_demo.py.
_base_ = ['./faster_rcnn_r18_ste_demo.py', '../_base_/surge.py']

model = dict(
    backbone=dict(
        conv_cfg=dict(compensator={{_base_.surge_compensator}})),
    neck=dict(conv_cfg=dict(compensator={{_base_.surge_compensator}})))
custom_hooks = [{{_base_.surge_hook}}]
