# Image classifier over the vanilla binary ResNet-18 (one shortcut per
# block), BinaryConnect-style binarization: sign forward, identity
# surrogate for the weights, clipped (hardtanh) surrogate for the
# activations, no weight scaling (the BN after every conv rescales).
# No activation besides the sign (act='identity'): a hardtanh after each
# residual add clamps the residual stream to [-1, 1] and stops its gradient
# beyond, which leaves a binary ResNet-34 at chance on GlyphCls
# (docs/en/results.md#glyphcls-study).
#   binarized : every conv inside the blocks (16 3x3 convs)
#   real      : stem conv, projection shortcuts (1x1 conv + BN), every BN,
#               global pooling and the fc classifier
vanilla_binary_conv = dict(
    type='BinaryConv',
    weight_surrogate='identity',
    act_surrogate='clipped',
    weight_scaling='none')
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='BinaryResNet',
        depth=18,
        base_channels=64,
        stem_type='imagenet',
        out_indices=(3, ),
        act='identity',
        conv_cfg=vanilla_binary_conv),
    num_classes=1000)
