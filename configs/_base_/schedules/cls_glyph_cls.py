# GlyphCls benchmark schedule (CPU, one core per run): batch 32, 6 epochs of
# 625 iterations, Adam lr 1e-3
# with cosine decay and no weight decay (the Bi-Real / ReActNet recipe in
# miniature), validated every epoch.
max_epochs = 6
# StoMPP configs binarize progressively from stompp_begin to stompp_end
# (epochs), then train the fully binary network.
stompp_begin = 0
stompp_end = 5
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min=0.0, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
