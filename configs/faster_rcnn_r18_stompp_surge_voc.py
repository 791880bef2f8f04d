# StoMPP composed with SURGE on Faster R-CNN ResNet-18 + FPN / VOC07+12:
# progressive binarization with the clipped STE on frozen entries, and the
# SURGE compensator on every backbone and neck binary conv.
_base_ = ['./faster_rcnn_r18_stompp_voc.py', './_base_/surge.py']

model = {{_base_.stompp_surge_model_overrides}}
custom_hooks = [
    dict(type='StoMPPHook', begin=0, end=3, by_epoch=True),
    {{_base_.surge_hook}}
]
