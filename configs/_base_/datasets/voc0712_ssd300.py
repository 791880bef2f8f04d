# VOC07+12 for SSD300 (mmdet's SSD recipe): photometric distortion, expand,
# min-IoU random crop, 300x300 resize; trainval repeated 10x.
_base_ = ['./voc0712.py', './ssd300_pipelines.py']

train_pipeline = {{_base_.ssd_train_pipeline}}
test_pipeline = {{_base_.ssd_test_pipeline}}
voc_train = dict(
    type='VOCDataset',
    data_root='data/VOCdevkit/',
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=8,
    num_workers=3,
    dataset=dict(
        times=10,
        dataset=dict(datasets=[
            dict(
                voc_train,
                ann_file='VOC2007/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2007/')),
            dict(
                voc_train,
                ann_file='VOC2012/ImageSets/Main/trainval.txt',
                data_prefix=dict(sub_data_root='VOC2012/'))
        ])))
val_dataloader = dict(batch_size=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
