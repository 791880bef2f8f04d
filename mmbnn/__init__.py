# Copyright (c) mmbnn contributors. All rights reserved.
"""mmbnn: binary (1-bit) object detectors for MMDetection 3.x.

Importing this package registers every mmbnn module into the
mmengine/mmdet registries; configs load it with
``custom_imports = dict(imports=['mmbnn'], allow_failed_imports=False)``.
"""
from . import apis, datasets, deploy, engine, evaluation  # noqa: F401
from . import models  # noqa: F401
from . import distill, ops, stompp, surge  # noqa: F401
from .version import __version__

__all__ = ['__version__']
