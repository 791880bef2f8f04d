# bireal18_ste_cifar100.py trained with StoMPP's minimal recipe (SGD, constant
# lr 0.1, no weight decay): STE under the StoMPP configs' optimizer.
_base_ = [
    './bireal18_ste_cifar100.py',
    '../../_base_/schedules/cls_minimal_recipe.py'
]
optim_wrapper = {{_base_.minimal_optim_wrapper}}
param_scheduler = {{_base_.minimal_param_scheduler}}
