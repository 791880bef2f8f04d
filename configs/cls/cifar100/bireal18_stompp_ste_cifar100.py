# StoMPP with the clipped STE on the frozen entries.
_base_ = './bireal18_stompp_cifar100.py'
model = dict(
    backbone=dict(conv_cfg=dict(progressive=dict(ste_on_frozen='clipped'))))
