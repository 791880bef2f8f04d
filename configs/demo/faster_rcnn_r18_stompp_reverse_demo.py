# Ablation: StoMPP (STE-free) freezing from output to input (reverse order).
_base_ = ['./faster_rcnn_r18_stompp_demo.py']

custom_hooks = [
    dict(type='StoMPPHook', begin=0, end=7, by_epoch=True, order='reverse')
]
