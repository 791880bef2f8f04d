# CPU demo schedule: a few epochs of the 240-image demo train split with
# AdamW and a short warm-up, evaluated once at the end.
max_epochs = 10
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min_ratio=0.05, convert_to_iter_based=True)
]
# SeparateClipOptimWrapper: the clipping norm covers the shared
# parameters only (SURGE's training-only W_a are clipped apart), so every
# training rule takes the same clipped step on them
optim_wrapper = dict(
    type='SeparateClipOptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0),
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=8)
