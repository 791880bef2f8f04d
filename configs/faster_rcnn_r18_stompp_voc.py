# Faster R-CNN ResNet-18 + FPN STE config with StoMPP (STE-free): every binary
# conv of backbone and neck is binarized progressively, layer by layer from
# input to output, over epochs 0-3 of 4; then the binary network trains on.
_base_ = ['./faster_rcnn_r18_ste_voc.py', './_base_/stompp.py']

model = {{_base_.stompp_model_overrides}}
custom_hooks = [dict(type='StoMPPHook', begin=0, end=3, by_epoch=True)]
