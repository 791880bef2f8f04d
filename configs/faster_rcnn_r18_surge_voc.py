# Faster R-CNN ResNet-18 + FPN STE config + SURGE on every binary conv of
# backbone and neck (auxiliary FP branch, AGS lambda, SURGEHook eta 0.1).
_base_ = ['./faster_rcnn_r18_ste_voc.py', './_base_/surge.py']

model = {{_base_.surge_model_overrides}}
custom_hooks = [{{_base_.surge_hook}}]
