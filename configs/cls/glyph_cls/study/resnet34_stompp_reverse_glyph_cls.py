# Study variant: StoMPP STE-free in reverse order (output layer first),
# the papers' ordering ablation.
_base_ = '../resnet34_stompp_glyph_cls.py'
custom_hooks = [
    dict(type='StoMPPHook', begin={{_base_.stompp_begin}},
         end={{_base_.stompp_end}}, by_epoch=True, order='reverse')
]
