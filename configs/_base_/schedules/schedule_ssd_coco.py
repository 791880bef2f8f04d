# mmdet's SSD300 COCO schedule: 24 epochs over train2017 repeated 5x (= 120),
# SGD lr 2e-3 for a total batch of 64 (8 GPUs x 8), steps at 16 and 22.
_base_ = './schedule_ssd_voc.py'

optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
         end=500),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True,
         milestones=[16, 22], gamma=0.1)
]
