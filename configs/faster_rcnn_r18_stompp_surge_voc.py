# StoMPP composed with SURGE: progressive binarization (StoMPP with the
# clipped STE on frozen entries) and the SURGE compensator on every backbone
# and neck binary conv.
_base_ = ['./faster_rcnn_r18_stompp_voc.py', './_base_/surge.py']

model = dict(
    backbone=dict(
        conv_cfg=dict(
            progressive=dict(ste_on_frozen='clipped'),
            compensator={{_base_.surge_compensator}})),
    neck=dict(
        conv_cfg=dict(
            progressive=dict(ste_on_frozen='clipped'),
            compensator={{_base_.surge_compensator}})))
custom_hooks = [
    dict(type='StoMPPHook', begin=0, end=3, by_epoch=True),
    {{_base_.surge_hook}}
]
