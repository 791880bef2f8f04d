# SURGE settings shared by the *_surge_* configs. Only variables: a config
# applies them with
#   model = dict(backbone=dict(conv_cfg=dict(
#                    compensator={{_base_.surge_compensator}})),
#                neck=dict(conv_cfg=dict(
#                    compensator={{_base_.surge_compensator}})))
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
