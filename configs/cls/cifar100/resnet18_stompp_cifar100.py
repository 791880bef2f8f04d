# StoMPP (STE-free) on resnet18_ste_cifar100.py with StoMPP's minimal recipe
# (SGD, constant lr 0.1, no weight decay): every binary conv binarized
# progressively, input to output, until stompp_end; then fully binary.
_base_ = [
    './resnet18_ste_cifar100.py', '../../_base_/stompp.py',
    '../../_base_/schedules/cls_minimal_recipe.py'
]
model = {{_base_.stompp_backbone_overrides}}
optim_wrapper = {{_base_.minimal_optim_wrapper}}
param_scheduler = {{_base_.minimal_param_scheduler}}
custom_hooks = [
    dict(type='StoMPPHook', begin={{_base_.stompp_begin}},
         end={{_base_.stompp_end}}, by_epoch=True)
]
