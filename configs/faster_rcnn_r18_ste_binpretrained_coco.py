# faster_rcnn_r18_ste_coco.py with its BiRealResNet-18 initialized from a
# binary ImageNet classifier (every backbone key loaded, BinaryPretrained)
# instead of torchvision's full-precision ResNet-18: the recipe of the
# published 1-bit detectors. Make the checkpoint with
#   tools/dist_train.sh configs/cls/imagenet/bireal18_ste_imagenet.py 8
# (or bring your own with the same keys) and point
# model.backbone.init_cfg.checkpoint at it.
_base_ = './faster_rcnn_r18_ste_coco.py'
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='BinaryPretrained',
            checkpoint='checkpoints/bireal18_ste_imagenet.pth',
            prefix='backbone.')))
