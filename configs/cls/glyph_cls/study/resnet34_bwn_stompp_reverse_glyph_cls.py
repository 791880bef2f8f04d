# Study variant: resnet34_bwn_stompp_glyph_cls.py in reverse order (output
# layer first); the papers find binary-weight networks insensitive to order.
_base_ = './resnet34_bwn_stompp_glyph_cls.py'
custom_hooks = [
    dict(type='StoMPPHook', begin={{_base_.stompp_begin}},
         end={{_base_.stompp_end}}, by_epoch=True, order='reverse')
]
