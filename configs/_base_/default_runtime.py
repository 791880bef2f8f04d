# mmdet's runtime (default_scope='mmdet', hooks, visualizer) plus the plugin
# import that registers every mmbnn module.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmbnn'], allow_failed_imports=False)
# checkpoints carry the random state, so a resumed run draws the
# augmentations the uninterrupted one would have drawn
default_hooks = dict(rng_state=dict(type='RNGStateHook'))
