# SSD300's data pipelines (mmdet's SSD recipe): photometric distortion,
# expand, min-IoU random crop, 300x300 resize. Only variables; the SSD
# dataset files apply them with {{_base_.ssd_train_pipeline}}.
ssd_image_scale = (300, 300)  # SSD300 input
ssd_mean = [123.675, 116.28, 103.53]  # model.data_preprocessor.mean
ssd_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Expand', mean=ssd_mean, to_rgb=True, ratio_range=(1, 4)),
    dict(
        type='MinIoURandomCrop',
        min_ious=(0.1, 0.3, 0.5, 0.7, 0.9),
        min_crop_size=0.3),
    dict(type='Resize', scale=ssd_image_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18),
    dict(type='PackDetInputs')
]
ssd_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=ssd_image_scale, keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
