# Study variant: StoMPP STE-free with one schedule for all layers at once
# (order='global'), the papers' global progressive-freezing foil.
_base_ = '../resnet34_stompp_glyph_cls.py'
custom_hooks = [
    dict(type='StoMPPHook', begin={{_base_.stompp_begin}},
         end={{_base_.stompp_end}}, by_epoch=True, order='global')
]
