# COCO 2017 for SSD300 (mmdet's SSD recipe): photometric distortion, expand,
# min-IoU random crop, 300x300 resize; train2017 repeated 5x.
_base_ = ['./coco_detection.py', './ssd300_pipelines.py']

train_pipeline = {{_base_.ssd_train_pipeline}}
test_pipeline = {{_base_.ssd_test_pipeline}}
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    batch_sampler=None,
    dataset=dict(
        _delete_=True,
        type='RepeatDataset',
        times=5,
        dataset=dict(
            type='CocoDataset',
            data_root='data/coco/',
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=train_pipeline)))
val_dataloader = dict(batch_size=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
