# SSD300 VGG-16 STE config with StoMPP (STE-free): every binary conv of
# backbone and neck is binarized progressively, layer by layer from input to
# output, over epochs 0-18 of 24; then the binary network trains on.
_base_ = ['./ssd300_vgg16_ste_voc.py', './_base_/stompp.py']

model = {{_base_.stompp_model_overrides}}
custom_hooks = [dict(type='StoMPPHook', begin=0, end=18, by_epoch=True)]
