# Binary SSD300: BinarySSDVGG (BiDet-style binary VGG-16) + SSDNeck with
# binarized extra layers + real-valued SSD prediction head.
#   binarized : 14 backbone convs (conv1_2 .. conv5_3, fc6, fc7) and the 8
#               convs of SSDNeck's 4 extra levels (1x1 and 3x3)
#   real      : conv1_1 (RGB input), every BN / activation / threshold, the
#               max-pools, SSDNeck's L2Norm and the SSD head (cls/reg convs)
# Architecture changes against SSDVGG (why: mmbnn/models/backbones/
# binary_ssd_vgg.py): BN after every conv, parameter-free shortcuts
# (identity, or channel repeat where channels double), RPReLU instead of
# ReLU; the neck's extra layers get BN and PReLU instead of ReLU so that the
# next binary conv sees a signed input. The backbone loads an ImageNet
# full-precision VGG-16 (mmcv layout) when the checkpoint is reachable.
_base_ = './ssd300_vgg16.py'

binary_conv = dict(
    type='BinaryConv',
    weight_surrogate='clipped',
    act_surrogate='clipped',
    weight_scaling='mean_abs',
    act_threshold=True)

model = dict(
    backbone=dict(
        _delete_=True,
        type='BinarySSDVGG',
        depth=16,
        conv_cfg=binary_conv,
        act='rprelu',
        shortcut='repeat',
        out_feature_indices=(22, 34),
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://vgg16_caffe')),
    neck=dict(
        conv_cfg=binary_conv,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='PReLU')))
