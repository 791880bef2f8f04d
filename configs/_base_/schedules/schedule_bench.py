# GlyphBench schedule (2 CPU cores): batch 4, AdamW 1e-3 with a short
# warm-up and cosine decay, validated every epoch (the mAP curves of
# tools/analysis_tools/compare_methods.py). StoMPP configs end their
# schedule at stompp_end (75% of training).
_base_ = './schedule_demo.py'

max_epochs = 4
stompp_end = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min_ratio=0.05, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=4)
