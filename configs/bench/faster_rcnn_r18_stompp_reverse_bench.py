# Ablation on GlyphBench: StoMPP (STE-free) freezing from output to input.
_base_ = ['./faster_rcnn_r18_stompp_bench.py']

custom_hooks = [
    dict(type='StoMPPHook', begin=0, end={{_base_.stompp_end}},
         by_epoch=True, order='reverse')
]
