# Binary-network schedule on COCO 2017: the VOC BNN optimizer (AdamW 1e-3,
# wd 0, clipping) over mmdet's 1x: 12 epochs, warm-up, steps at 8 and 11.
_base_ = './schedule_bnn_voc_1x.py'

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True,
         milestones=[8, 11], gamma=0.1)
]
