# CIFAR schedule of the IR-Net / ReCU line that SURGE follows: SGD momentum
# 0.9, lr 0.1, weight decay 1e-4, cosine decay over 400 epochs, batch 128.
max_epochs = 400
stompp_begin = 0
stompp_end = 300  # StoMPP: progression over 75% of training
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min=0.0)
]
auto_scale_lr = dict(enable=False, base_batch_size=128)
