# COCO 2017 train / val. Expects data/coco/.
_base_ = 'mmdet::_base_/datasets/coco_detection.py'
