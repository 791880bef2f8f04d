# StoMPP composed with SURGE on Faster R-CNN ResNet-18 + FPN / COCO 2017:
# progressive binarization with the clipped STE on frozen entries, and the
# SURGE compensator on every backbone and neck binary conv.
_base_ = ['./faster_rcnn_r18_stompp_coco.py', './_base_/surge.py']

model = {{_base_.stompp_surge_model_overrides}}
custom_hooks = [
    dict(type='StoMPPHook', begin=0, end=9, by_epoch=True),
    {{_base_.surge_hook}}
]
