# The synthetic demo dataset in COCO layout (the same images as demo_voc.py;
# tools/dataset_converters/make_demo_dataset.py writes both) read by mmdet's
# own CocoDataset / CocoMetric: bbox AP, AP50, AP75, APs/m/l.
# The demo objects are 20-52 px (areas 400-2704 px^2) in 128x128 images, so
# COCO's "large" range (> 96^2 px^2) is empty and CocoMetric reports
# bbox_mAP_l = -1.
_base_ = './demo_voc.py'

dataset_type = 'CocoDataset'
data_root = 'data/demo/'
# file_name in the JSON is 'VOC2007/JPEGImages/<id>.jpg'
image_prefix = dict(img='VOCdevkit/')

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        metainfo={{_base_.metainfo}},
        ann_file='annotations/instances_trainval.json',
        data_prefix=image_prefix,
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline={{_base_.train_pipeline}},
        backend_args={{_base_.backend_args}}))
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type=dataset_type,
        data_root=data_root,
        metainfo={{_base_.metainfo}},
        ann_file='annotations/instances_test.json',
        data_prefix=image_prefix,
        test_mode=True,
        pipeline={{_base_.test_pipeline}},
        backend_args={{_base_.backend_args}}))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_test.json',
    metric='bbox',
    format_only=False,
    backend_args={{_base_.backend_args}})
test_evaluator = val_evaluator
