# StoMPP composed with SURGE on SSD300 VGG-16 / VOC07+12: progressive
# binarization with the clipped STE on frozen entries, and the SURGE
# compensator on every backbone and neck binary conv.
_base_ = ['./ssd300_vgg16_stompp_voc.py', './_base_/surge.py']

model = {{_base_.stompp_surge_model_overrides}}
custom_hooks = [
    dict(type='StoMPPHook', begin=0, end=18, by_epoch=True),
    {{_base_.surge_hook}}
]
