# Full-precision SSD300 with mmdet's VGG-16 (SSDVGG), SSDNeck and SSDHead,
# the reference every binary SSD config is compared with. ImageNet init from
# mmdet's caffe VGG-16 (open-mmlab://vgg16_caffe). The head is mmbnn's
# FixedSSDHead: mmdet 3.3.0's SSDHead crashes at prediction time (upstream
# bug report open-mmlab/mmdetection#11780); the fix changes nothing else.
_base_ = 'mmdet::_base_/models/ssd300.py'

model = dict(bbox_head=dict(type='FixedSSDHead', num_classes=20))
