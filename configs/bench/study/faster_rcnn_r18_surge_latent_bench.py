# Study variant: SURGE whose auxiliary branch convolves with the latent
# weights (aux_weight='latent'), eta 0.3.
_base_ = ['../faster_rcnn_r18_surge_bench.py']

surge = dict(compensator=dict(aux_weight='latent'))
model = dict(backbone=dict(conv_cfg=surge), neck=dict(conv_cfg=surge))
custom_hooks = [
    dict(type='SURGEHook', eta=0.3, interval=50, log_per_layer=True)
]
