# StoMPP+STE on GlyphBench: as faster_rcnn_r18_stompp_bench.py, with the
# clipped STE on the frozen (binary) entries.
_base_ = ['./faster_rcnn_r18_stompp_bench.py']

model = dict(
    backbone=dict(conv_cfg=dict(progressive=dict(ste_on_frozen='clipped'))),
    neck=dict(conv_cfg=dict(progressive=dict(ste_on_frozen='clipped'))))
