# Binary-network schedule on VOC07+12: mmdet's VOC schedule (4 epochs over
# the 3x repeated trainval = 12, warm-up, step at epoch 3, total batch 16)
# with BNN practice for the optimizer: AdamW lr 1e-3 and no weight decay
# (decay pulls latent weights towards 0, where their signs flip at random),
# plus gradient clipping against the spikes binary training is prone to.
_base_ = './schedule_voc_1x.py'

# SeparateClipOptimWrapper: the clipping norm covers the shared
# parameters only (SURGE's training-only W_a are clipped apart), so every
# training rule takes the same clipped step on them
optim_wrapper = dict(
    type='SeparateClipOptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, weight_decay=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
