# Study variant: StoMPP+STE with per-channel activation masks.
_base_ = ['../faster_rcnn_r18_stompp_ste_bench.py']

rule = dict(progressive=dict(act_mask='channel'))
model = dict(backbone=dict(conv_cfg=rule), neck=dict(conv_cfg=rule))
