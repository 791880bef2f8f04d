# Study variant: SURGE with eta 0.3 (constant).
_base_ = ['../faster_rcnn_r18_surge_bench.py']

custom_hooks = [
    dict(type='SURGEHook', eta=0.3, interval=50, log_per_layer=True)
]
