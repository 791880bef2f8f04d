# Copyright (c) mmbnn contributors. All rights reserved.
from . import transforms  # noqa: F401  (registers the transforms)
from .classification import CIFAR10, CIFAR100, ImageNetFolder
from .glyph_bench import GLYPH_CLASSES, generate_glyph_bench
from .glyph_cls import CLS_CLASSES, generate_glyph_cls
from .synthetic import DEMO_CLASSES, generate_demo_dataset

__all__ = [
    'CIFAR10', 'CIFAR100', 'CLS_CLASSES', 'DEMO_CLASSES', 'GLYPH_CLASSES',
    'ImageNetFolder', 'generate_demo_dataset', 'generate_glyph_bench',
    'generate_glyph_cls'
]
