# StoMPP+SURGE on GlyphBench: StoMPP with the clipped STE on frozen entries,
# composed with the SURGE compensator on every binary conv.
_base_ = ['./faster_rcnn_r18_stompp_bench.py', '../_base_/surge.py']

model = {{_base_.stompp_surge_model_overrides}}
custom_hooks = [
    dict(type='StoMPPHook', begin=0, end={{_base_.stompp_end}},
         by_epoch=True), {{_base_.surge_hook}}
]
