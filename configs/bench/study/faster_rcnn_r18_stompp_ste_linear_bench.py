# Study variant: StoMPP+STE with a linear (instead of cubic) frozen-fraction
# ramp inside each layer's window.
_base_ = ['../faster_rcnn_r18_stompp_ste_bench.py']

custom_hooks = [
    dict(type='StoMPPHook', begin=0, end={{_base_.stompp_end}}, by_epoch=True,
         shape='linear')
]
