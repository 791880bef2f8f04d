# Binary (clipped STE) SSD with a BinarySSDVGG backbone on the synthetic demo
# dataset (CPU): the SSD300 architecture at demo scale. Same binarization as
# ../ssd300_vgg16_ste_voc.py (14 backbone convs + 8 neck convs binarized;
# conv1_1, BN/activations and the prediction head real), with the VGG width
# divided by 4 (base_channels=16), 128x128 inputs, 4 feature levels (strides
# 8-64) and anchors sized for the demo's 20-52 px objects, no pretrained
# init (so inputs are normalized by the ImageNet std, not caffe's 1), and
# 20 epochs: the binary SSD learns slower than the Faster R-CNN demos (0.06
# mAP after 10 epochs, 0.41 after 20 when measured).
_base_ = [
    '../_base_/models/ssd300_binary_vgg16.py',
    '../_base_/datasets/demo_voc.py', '../_base_/schedules/schedule_demo.py',
    '../_base_/demo_runtime.py'
]
model = dict(
    data_preprocessor=dict(std=[58.395, 57.12, 57.375]),
    backbone=dict(base_channels=16, init_cfg=None),
    neck=dict(
        in_channels=(128, 256),
        out_channels=(128, 256, 128, 64),
        level_strides=(2, 2),
        level_paddings=(1, 1)),
    bbox_head=dict(
        in_channels=(128, 256, 128, 64),
        num_classes=4,
        anchor_generator=dict(
            _delete_=True,
            type='SSDAnchorGenerator',
            scale_major=False,
            input_size=128,
            strides=[8, 16, 32, 64],
            ratios=[[2], [2, 3], [2, 3], [2]],
            min_sizes=[16, 32, 56, 88],
            max_sizes=[32, 56, 88, 128])),
    test_cfg=dict(nms_pre=400, max_per_img=50))
max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         eta_min_ratio=0.05, convert_to_iter_based=True)
]
