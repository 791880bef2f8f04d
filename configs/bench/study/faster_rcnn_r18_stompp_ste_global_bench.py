# Study variant: StoMPP+STE with one global schedule for all layers
# (order='global') instead of layer-by-layer windows.
_base_ = ['../faster_rcnn_r18_stompp_ste_bench.py']

custom_hooks = [
    dict(type='StoMPPHook', begin=0, end={{_base_.stompp_end}}, by_epoch=True,
         order='global')
]
