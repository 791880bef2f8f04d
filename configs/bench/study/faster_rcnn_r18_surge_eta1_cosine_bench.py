# Study variant: SURGE with eta 1.0 decaying to 0 (cosine) over training:
# strong full-precision guidance early, the binary path's own gradient late.
_base_ = ['../faster_rcnn_r18_surge_bench.py']

custom_hooks = [
    dict(type='SURGEHook', eta=1.0, schedule='cosine_decay', interval=50,
         log_per_layer=True)
]
