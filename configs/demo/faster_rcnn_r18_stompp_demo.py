# StoMPP (STE-free) on the synthetic demo dataset (CPU); same budget as
# faster_rcnn_r18_ste_demo.py; binarization completes at epoch 7 of 10.
_base_ = ['./faster_rcnn_r18_ste_demo.py', '../_base_/stompp.py']

model = dict(
    backbone=dict(
        conv_cfg=dict(progressive={{_base_.stompp_progressive}})),
    neck=dict(conv_cfg=dict(progressive={{_base_.stompp_progressive}})))
custom_hooks = [dict(type='StoMPPHook', begin=0, end=7, by_epoch=True)]
