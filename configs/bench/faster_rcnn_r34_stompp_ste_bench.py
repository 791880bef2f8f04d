# faster_rcnn_r18_stompp_ste_bench.py with a BiRealResNet-34 backbone.
_base_ = './faster_rcnn_r18_stompp_ste_bench.py'

model = dict(backbone=dict(depth=34))
