# StoMPP with the clipped STE on the frozen entries.
_base_ = './resnet18_stompp_cifar10.py'
model = dict(
    backbone=dict(conv_cfg=dict(progressive=dict(ste_on_frozen='clipped'))))
