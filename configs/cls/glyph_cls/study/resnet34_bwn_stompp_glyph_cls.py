# Study variant: a binary-weight network (real activations, ReLU blocks)
# under StoMPP STE-free, input to output. Binarized: the weights of every
# block conv; real: every activation, the stem, the projection shortcuts,
# BN and the classifier.
_base_ = '../resnet34_stompp_glyph_cls.py'
model = dict(
    backbone=dict(act='relu', conv_cfg=dict(binarize_act=False)))
