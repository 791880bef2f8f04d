# StoMPP (STE-free) on GlyphBench: every binary conv of backbone and neck is
# binarized progressively, input to output, until stompp_end (75% of
# training); then the fully binary network trains on.
_base_ = ['./faster_rcnn_r18_ste_bench.py', '../_base_/stompp.py']

model = {{_base_.stompp_model_overrides}}
custom_hooks = [
    dict(type='StoMPPHook', begin=0, end={{_base_.stompp_end}},
         by_epoch=True)
]
