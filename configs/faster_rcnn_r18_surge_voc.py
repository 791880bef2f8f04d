# Binary Faster R-CNN BiRealResNet-18 + binary FPN on VOC07+12, every binary
# conv of backbone and neck compensated by SURGE (DPGC + AGS).
_base_ = ['./faster_rcnn_r18_ste_voc.py', './_base_/surge.py']

model = dict(
    backbone=dict(
        conv_cfg=dict(compensator={{_base_.surge_compensator}})),
    neck=dict(conv_cfg=dict(compensator={{_base_.surge_compensator}})))
custom_hooks = [{{_base_.surge_hook}}]
