# mmdet's runtime (default_scope='mmdet', hooks, visualizer) plus the plugin
# import that registers every mmbnn module.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmbnn'], allow_failed_imports=False)
# checkpoints carry the random state, so a resumed run draws the
# augmentations the uninterrupted one would have drawn; NaN/Inf activations
# reaching a binary conv stop the run (sign would hide them); switch that
# check off with default_hooks = dict(nonfinite_check=None)
default_hooks = dict(
    rng_state=dict(type='RNGStateHook'),
    nonfinite_check=dict(type='NonFiniteCheckHook'))
