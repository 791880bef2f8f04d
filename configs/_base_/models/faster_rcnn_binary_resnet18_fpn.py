# Binary Faster R-CNN: vanilla BinaryResNet-18 (one shortcut per block) +
# binary FPN.
#   binarized : the 16 3x3 block convs of the backbone (BinaryConnect-style:
#               identity weight surrogate, clipped activation surrogate, no
#               weight scaling); all FPN convs (4 lateral 1x1 + 4 output 3x3,
#               clipped STE, mean|W| scaling)
#   real      : backbone stem conv, its 3 projection shortcuts (1x1 conv +
#               BN), every BN, RPN head, RoI head, FPN biases.
# No activation besides the sign (act='identity'), as the classifiers of
# configs/cls whose checkpoints initialize it.
# No backbone init: the *_glyphcls / *_binpretrained configs load a binary
# classifier of configs/cls with BinaryPretrained.
_base_ = './faster_rcnn_bireal_r18_fpn.py'

vanilla_binary_conv = dict(
    type='BinaryConv',
    weight_surrogate='identity',
    act_surrogate='clipped',
    weight_scaling='none')
model = dict(
    backbone=dict(
        _delete_=True,
        type='BinaryResNet',
        depth=18,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        act='identity',
        conv_cfg=vanilla_binary_conv,
        init_cfg=None))
