# Binary Faster R-CNN BiRealResNet-18 + binary FPN on VOC07+12 trained with
# StoMPP (STE-free): binarization of every backbone and neck binary conv
# progresses layer by layer from input to output over epochs 0-3 of 4 (the
# dataset is repeated 3x), then the fully binary network trains on.
_base_ = ['./faster_rcnn_r18_ste_voc.py', './_base_/stompp.py']

model = dict(
    backbone=dict(
        conv_cfg=dict(progressive={{_base_.stompp_progressive}})),
    neck=dict(conv_cfg=dict(progressive={{_base_.stompp_progressive}})))
custom_hooks = [dict(type='StoMPPHook', begin=0, end=3, by_epoch=True)]
