# faster_rcnn_r34_ste_voc.py with the RPN's shared 3x3 conv binarized too
# (BinaryRPNHead).
_base_ = ['./faster_rcnn_r34_ste_voc.py', './_base_/binary_rpn.py']

model = dict(rpn_head={{_base_.binary_rpn_head}})
