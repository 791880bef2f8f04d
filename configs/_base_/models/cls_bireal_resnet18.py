# Image classifier over BiRealResNet-18 (a real-valued shortcut around every
# binary conv, RPReLU, learnable thresholds), clipped STE, mean|W| scaling.
#   binarized : the 16 3x3 block convs
#   real      : stem conv, avg-pool + 1x1 conv + BN downsample shortcuts,
#               every BN, RPReLU and threshold, pooling and fc
bireal_binary_conv = dict(
    type='BinaryConv',
    weight_surrogate='clipped',
    act_surrogate='clipped',
    weight_scaling='mean_abs',
    act_threshold=True)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='BiRealResNet',
        depth=18,
        base_channels=64,
        stem_type='imagenet',
        out_indices=(3, ),
        block_act='rprelu',
        conv_cfg=bireal_binary_conv),
    num_classes=1000)
