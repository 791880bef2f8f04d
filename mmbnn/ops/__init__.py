# Copyright (c) mmbnn contributors. All rights reserved.
from .binarizers import (SURROGATE_GRADIENTS, WEIGHT_SCALINGS, hard_sign,
                         sign_with_surrogate)
from .binary_conv import KEEP_REAL_RULES, BinaryConv

__all__ = [
    'SURROGATE_GRADIENTS', 'WEIGHT_SCALINGS', 'hard_sign',
    'sign_with_surrogate', 'KEEP_REAL_RULES', 'BinaryConv'
]
