# StoMPP+STE (clipped STE on frozen entries) on the demo dataset.
_base_ = ['./faster_rcnn_r18_stompp_demo.py']

model = dict(
    backbone=dict(conv_cfg=dict(progressive=dict(ste_on_frozen='clipped'))),
    neck=dict(conv_cfg=dict(progressive=dict(ste_on_frozen='clipped'))))
