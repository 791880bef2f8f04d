# A binary RPN head shared by the *_binrpn_* configs. Only variables; a
# config applies it with
#   model = dict(rpn_head={{_base_.binary_rpn_head}})
# The shared 3x3 RPN conv becomes a BinaryConv (clipped STE, mean |W| scale,
# learnable input threshold, real bias); the 1x1 objectness and box-delta
# convs stay real-valued.
binary_rpn_head = dict(
    type='BinaryRPNHead',
    conv_cfg=dict(
        type='BinaryConv',
        weight_surrogate='clipped',
        act_surrogate='clipped',
        weight_scaling='mean_abs',
        act_threshold=True))
