# The synthetic demo dataset (tools/dataset_converters/make_demo_dataset.py)
# read by mmdet's own VOCDataset / VOCMetric: 128x128 images, 4 classes.
dataset_type = 'VOCDataset'
data_root = 'data/demo/VOCdevkit/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'cross'),
    palette=[(220, 60, 60), (40, 90, 220), (60, 200, 40), (200, 60, 200)])
image_scale = (128, 128)
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='VOC2007/ImageSets/Main/trainval.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='VOC2007/ImageSets/Main/test.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='VOCMetric', metric='mAP', eval_mode='11points')
test_evaluator = val_evaluator

# What the demo changes in a Faster R-CNN model so it trains on 2 CPU cores:
# 4 classes, no pretrained download (so every stage trains and BN uses batch
# statistics: mmdet's ResNet defaults, frozen stem + layer1 and BN in eval
# mode, are made for pretrained weights), anchors sized for 20-52 px objects,
# small RPN/RoI budgets, a slimmer RoI head. Demo configs apply it with
#   model = {{_base_.demo_model_overrides}}
demo_model_overrides = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    rpn_head=dict(
        anchor_generator=dict(scales=[6], strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        # one bilinear sample per RoI bin: mmcv's CPU RoIAlign dominated
        # the step time with adaptive sampling
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=1)),
        bbox_head=dict(num_classes=4, fc_out_channels=256)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(max_per_img=50)))
