# Binary Faster R-CNN BiRealResNet-18 + binary FPN (clipped STE) on
# GlyphBench, from scratch; same budget as faster_rcnn_r18_fp_bench.py.
_base_ = [
    '../_base_/models/faster_rcnn_bireal_r18_fpn.py',
    '../_base_/datasets/glyph_bench.py',
    '../_base_/schedules/schedule_bench.py', '../_base_/bench_runtime.py'
]
model = {{_base_.bench_model_overrides}}
