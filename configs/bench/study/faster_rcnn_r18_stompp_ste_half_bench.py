# Study variant: StoMPP+STE whose schedule ends at half of training (epoch
# 2 of 4), leaving two epochs to the fully binary network.
_base_ = ['../faster_rcnn_r18_stompp_ste_bench.py']

custom_hooks = [dict(type='StoMPPHook', begin=0, end=2, by_epoch=True)]
