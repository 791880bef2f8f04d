# StoMPP (STE-free) on bireal18_ste_glyph_cls.py: every binary conv is
# binarized progressively, input to output, from stompp_begin to stompp_end
# (epochs); then the fully binary network trains on.
_base_ = ['./bireal18_ste_glyph_cls.py', '../../_base_/stompp.py']
model = {{_base_.stompp_backbone_overrides}}
custom_hooks = [
    dict(type='StoMPPHook', begin={{_base_.stompp_begin}},
         end={{_base_.stompp_end}}, by_epoch=True)
]
