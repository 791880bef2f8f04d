# StoMPP settings shared by the *_stompp_* configs. Only variables; a config
# applies them with
#   model = {{_base_.stompp_model_overrides}}
#   custom_hooks = [dict(type='StoMPPHook', begin=0, end=..., by_epoch=True)]
# so every binarized conv of backbone and neck is binarized progressively,
# layer by layer from input to output (the hook's defaults: cubic shape,
# forward order, weights and activations in the same window, the first
# window after the learning-rate warm-up); the configs end the schedule at
# 75% of training, so the last quarter trains the fully binary network.
stompp_progressive = dict(
    type='StoMPP',
    refresh_rate=100,  # soft refresh: 1% of the weight scores per step
    act_mask='element',
    ste_on_frozen=None,  # STE-free; the '+STE' configs set 'clipped'
    eval_act='expected',
    # detection: the rule acts on W / mean|W|, whose entries are of the
    # order of sign(W)'s (on the detection demo, seed 0, 10 epochs: mAP
    # 0.508 against 0.279 on the latent weights, whose continuous entries
    # are about 20x smaller than the frozen +-1); the classifiers use the
    # papers' form on the latent weights (stompp_backbone_overrides)
    weight_input='normalized')

# model overrides applying the rule to backbone and neck:
#   model = {{_base_.stompp_model_overrides}}
stompp_model_overrides = dict(
    backbone=dict(conv_cfg=dict(progressive=stompp_progressive)),
    neck=dict(conv_cfg=dict(progressive=stompp_progressive)))

# the same for a classifier (no neck), on the latent weights (the papers'
# form, clip(W, -1, 1) and sign(W)):
#   model = {{_base_.stompp_backbone_overrides}}
stompp_backbone_overrides = dict(
    backbone=dict(
        conv_cfg=dict(
            progressive=dict(stompp_progressive, weight_input='latent'))))
