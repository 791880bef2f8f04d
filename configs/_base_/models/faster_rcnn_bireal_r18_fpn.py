# Binary Faster R-CNN: BiRealResNet-18 backbone + FPN, both binarized with
# BinaryConv (1-bit weights and activations).
#   binarized : the 16 3x3 block convs of the backbone; all FPN convs
#               (4 lateral 1x1 + 4 output 3x3)
#   real      : backbone stem conv (7x7) and its 3 avgpool+1x1 downsample
#               shortcuts, BN/RPReLU, RPN head, RoI head (FCs), and FPN's
#               biases.
# The backbone loads an ImageNet full-precision ResNet-18 (torchvision key
# layout) when the checkpoint is reachable; set init_cfg=None to train from
# scratch.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

binary_conv = dict(
    type='BinaryConv',
    weight_surrogate='clipped',
    act_surrogate='clipped',
    weight_scaling='mean_abs')

model = dict(
    backbone=dict(
        _delete_=True,
        type='BiRealResNet',
        depth=18,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        conv_cfg=dict(binary_conv, act_threshold=True),
        block_act='rprelu',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512], conv_cfg=binary_conv),
    roi_head=dict(bbox_head=dict(num_classes=20)))
