# Copyright (c) mmbnn contributors. All rights reserved.
from .block_act import (BLOCK_ACTS, build_block_act, check_signed_inputs,
                        fuse_activation)
from .rprelu import RPReLU
from .stem import STEM_TYPES, build_stem

__all__ = [
    'BLOCK_ACTS', 'RPReLU', 'STEM_TYPES', 'build_block_act', 'build_stem',
    'check_signed_inputs', 'fuse_activation'
]
