# faster_rcnn_r18_fp_bench.py with mmdet's ResNet-34.
_base_ = './faster_rcnn_r18_fp_bench.py'

model = dict(backbone=dict(depth=34))
