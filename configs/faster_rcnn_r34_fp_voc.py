# faster_rcnn_r18_fp_voc.py with a ResNet-34 backbone (ImageNet full-precision
# ResNet-34 init from torchvision).
_base_ = './faster_rcnn_r18_fp_voc.py'

model = dict(
    backbone=dict(
        depth=34,
        init_cfg=dict(
            type='Pretrained', checkpoint='torchvision://resnet34')))
