# StoMPP + SURGE: StoMPP's progression with the clipped STE on frozen entries,
# and SURGE's auxiliary branch on every binary conv.
_base_ = ['./bireal18_stompp_cifar10.py', '../../_base_/surge.py']
model = {{_base_.stompp_surge_backbone_overrides}}
custom_hooks = [
    dict(type='StoMPPHook', begin={{_base_.stompp_begin}},
         end={{_base_.stompp_end}}, by_epoch=True), {{_base_.surge_hook}}
]
