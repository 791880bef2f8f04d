# faster_rcnn_r18_stompp_coco.py with a BiRealResNet-34 backbone (ImageNet
# full-precision ResNet-34 init from torchvision).
_base_ = './faster_rcnn_r18_stompp_coco.py'

model = dict(
    backbone=dict(
        depth=34,
        init_cfg=dict(
            type='Pretrained', checkpoint='torchvision://resnet34')))
