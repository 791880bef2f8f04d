# Copyright (c) mmbnn contributors. All rights reserved.
from .glyph_bench import GLYPH_CLASSES, generate_glyph_bench
from .synthetic import DEMO_CLASSES, generate_demo_dataset

__all__ = [
    'DEMO_CLASSES', 'generate_demo_dataset', 'GLYPH_CLASSES',
    'generate_glyph_bench'
]
