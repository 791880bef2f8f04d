# Study variant: resnet34_stompp_glyph_cls.py under StoMPP's minimal recipe
# (SGD momentum 0.9, constant lr 0.1, no weight decay).
_base_ = [
    '../resnet34_stompp_glyph_cls.py',
    '../../../_base_/schedules/cls_minimal_recipe.py'
]
optim_wrapper = {{_base_.minimal_optim_wrapper}}
param_scheduler = {{_base_.minimal_param_scheduler}}
