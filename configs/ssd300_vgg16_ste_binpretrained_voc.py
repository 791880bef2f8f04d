# ssd300_vgg16_ste_voc.py with its BinarySSDVGG-16 initialized from a user's
# binary ImageNet VGG-16 checkpoint holding every BinarySSDVGG key under
# 'backbone.' (BinaryPretrained: a missing or unexpected key is an error)
# instead of the full-precision open-mmlab://vgg16_caffe weights.
_base_ = './ssd300_vgg16_ste_voc.py'
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='BinaryPretrained',
            checkpoint='checkpoints/binary_vgg16_imagenet.pth',
            prefix='backbone.')))
