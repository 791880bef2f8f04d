# faster_rcnn_r18_ste_voc.py with the RPN's shared 3x3 conv binarized too
# (BinaryRPNHead): backbone blocks, FPN and RPN conv are 1-bit; the stem,
# downsample shortcuts, RPN 1x1 predictors and the RoI head stay real.
_base_ = ['./faster_rcnn_r18_ste_voc.py', './_base_/binary_rpn.py']

model = dict(rpn_head={{_base_.binary_rpn_head}})
