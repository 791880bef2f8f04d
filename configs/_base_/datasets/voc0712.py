# PASCAL VOC: train on VOC2007+2012 trainval (x3 repeat), test on VOC2007 test
# (mmdet's protocol). Expects data/VOCdevkit/VOC{2007,2012}.
_base_ = 'mmdet::_base_/datasets/voc0712.py'
