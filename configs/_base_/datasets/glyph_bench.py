# GlyphBench (tools/dataset_converters/make_glyph_bench.py): real photographs
# with small real font glyphs, 192x192 images, 8 look-alike classes, read by
# mmdet's own VOCDataset / VOCMetric. Train and test use disjoint photographs
# and fonts.
_base_ = './demo_voc.py'

data_root = 'data/glyph_bench/VOCdevkit/'
metainfo = dict(
    classes=('C', 'G', 'O', 'Q', 'E', 'F', 'P', 'R'),
    palette=[(220, 20, 60), (119, 11, 32), (0, 0, 142), (0, 0, 230),
             (106, 0, 228), (0, 60, 100), (0, 80, 100), (0, 0, 70)])
image_scale = (192, 192)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    # no flip: a mirrored glyph is not the same letter
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader

# What the benchmark changes in a Faster R-CNN model: 8 classes, training
# from scratch with every stage trained and BN in training mode (as the
# demo), anchors of 16-256 px (scale 4 at strides 4-64) for 16-64 px
# glyphs, FPN/RPN/RoI features of 128 channels (256 doubles the step time on
# 2 cores), and the demo's small RPN/RoI budgets. Configs apply it with
#   model = {{_base_.bench_model_overrides}}
fpn_channels = 128
bench_model_overrides = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    neck=dict(out_channels=fpn_channels),
    rpn_head=dict(
        in_channels=fpn_channels,
        feat_channels=fpn_channels,
        anchor_generator=dict(scales=[4], strides=[4, 8, 16, 32, 64])),
    roi_head=dict(
        bbox_roi_extractor=dict(
            out_channels=fpn_channels, roi_layer=dict(sampling_ratio=1)),
        bbox_head=dict(
            in_channels=fpn_channels, num_classes=8, fc_out_channels=256)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100),
        rcnn=dict(max_per_img=50)))
