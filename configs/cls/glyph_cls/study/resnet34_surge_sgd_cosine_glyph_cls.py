# Study variant: resnet34_surge_glyph_cls.py under the IR-Net / ReCU recipe
# that SURGE follows (SGD momentum 0.9, lr 0.1, weight decay 1e-4, warm-up,
# cosine decay over the 6 epochs).
_base_ = [
    '../resnet34_surge_glyph_cls.py',
    '../../../_base_/schedules/cls_sgd_cosine_recipe.py'
]
optim_wrapper = {{_base_.sgd_cosine_optim_wrapper}}
param_scheduler = {{_base_.sgd_cosine_param_scheduler}}
