# Copyright (c) mmbnn contributors. All rights reserved.
from .hook import StoMPPHook, execution_order
from .masking import ACT_MASKS, EVAL_ACTS, StoMPPMasking
from .schedule import (ORDERS, SHAPES, SPLITS, frozen_fraction, layer_windows,
                       split_window)

__all__ = [
    'StoMPPHook', 'execution_order', 'ACT_MASKS', 'EVAL_ACTS',
    'StoMPPMasking', 'ORDERS', 'SHAPES', 'SPLITS', 'frozen_fraction',
    'layer_windows', 'split_window'
]
