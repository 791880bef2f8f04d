# mmdet's runtime (default_scope='mmdet', hooks, visualizer) plus the plugin
# import that registers every mmbnn module.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmbnn'], allow_failed_imports=False)
