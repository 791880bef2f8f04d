# Full-precision Faster R-CNN R18-FPN (mmdet's ResNet-18) on GlyphBench, from
# scratch: the reference the binary rules are measured against.
_base_ = [
    '../_base_/models/faster_rcnn_r18_fpn.py',
    '../_base_/datasets/glyph_bench.py',
    '../_base_/schedules/schedule_bench.py', '../_base_/bench_runtime.py'
]
model = {{_base_.bench_model_overrides}}
