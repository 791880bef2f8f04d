# faster_rcnn_r18_ste_demo.py with the RPN's shared 3x3 conv binarized too
# (BinaryRPNHead).
_base_ = ['./faster_rcnn_r18_ste_demo.py', '../_base_/binary_rpn.py']

model = dict(rpn_head={{_base_.binary_rpn_head}})
