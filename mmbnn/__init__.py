# Copyright (c) mmbnn contributors. All rights reserved.
"""mmbnn: binary (1-bit) object detectors for MMDetection 3.x.

Importing this package registers every mmbnn module into the
mmengine/mmdet registries; configs load it with
``custom_imports = dict(imports=['mmbnn'], allow_failed_imports=False)``.
"""
from .utils import allow_trusted_checkpoints

allow_trusted_checkpoints()

from . import apis, datasets, models, ops  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'allow_trusted_checkpoints']
