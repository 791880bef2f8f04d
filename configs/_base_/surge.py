# SURGE settings shared by the *_surge_* configs. Only variables; a config
# applies them with
#   model = {{_base_.surge_model_overrides}}
#   custom_hooks = [{{_base_.surge_hook}}]
# so every binarized conv of backbone and neck gets an auxiliary
# full-precision branch, and SURGEHook sets eta and logs lambda.
surge_compensator = dict(
    type='SURGE',
    lambda_mode='adaptive',  # AGS; 'fixed' / 'ema' for the ablations
    aux_init='copy',  # W_a = latent weights at the first training step
    scale_aux_grad=False,  # W_a follows its own (unscaled) gradient
    eps=1e-8)
surge_hook = dict(
    type='SURGEHook', eta=0.1, schedule='constant', interval=50,
    log_per_layer=True)

# model overrides applying the compensator to backbone and neck:
#   model = {{_base_.surge_model_overrides}}
surge_model_overrides = dict(
    backbone=dict(conv_cfg=dict(compensator=surge_compensator)),
    neck=dict(conv_cfg=dict(compensator=surge_compensator)))
# on top of a *_stompp_* config: SURGE, and the clipped STE on the entries
# StoMPP has frozen (StoMPP+SURGE):
#   model = {{_base_.stompp_surge_model_overrides}}
stompp_surge_conv_cfg = dict(
    compensator=surge_compensator,
    progressive=dict(ste_on_frozen='clipped'))
stompp_surge_model_overrides = dict(
    backbone=dict(conv_cfg=stompp_surge_conv_cfg),
    neck=dict(conv_cfg=stompp_surge_conv_cfg))

# the same for a classifier (no neck):
#   model = {{_base_.surge_backbone_overrides}}
surge_backbone_overrides = dict(
    backbone=dict(conv_cfg=dict(compensator=surge_compensator)))
stompp_surge_backbone_overrides = dict(
    backbone=dict(conv_cfg=stompp_surge_conv_cfg))
