# ImageNet schedule of Bi-Real Net / ReActNet: Adam, lr 1e-3 at batch 512
# (8 GPUs x 64), linear decay to 0 over 256 epochs, no weight decay.
max_epochs = 256
stompp_begin = 0
stompp_end = 192  # StoMPP: progression over 75% of training
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=4)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0))
param_scheduler = [
    dict(type='LinearLR', by_epoch=True, begin=0, end=max_epochs,
         start_factor=1.0, end_factor=0.0, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=512)
