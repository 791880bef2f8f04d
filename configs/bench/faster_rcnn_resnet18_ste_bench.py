# Binary Faster R-CNN with the vanilla BinaryResNet-18 + binary FPN (STE)
# on GlyphBench, from scratch; the budget of faster_rcnn_r18_ste_bench.py.
_base_ = [
    '../_base_/models/faster_rcnn_binary_resnet18_fpn.py',
    '../_base_/datasets/glyph_bench.py',
    '../_base_/schedules/schedule_bench.py', '../_base_/bench_runtime.py'
]
model = {{_base_.bench_model_overrides}}
