# Copyright (c) mmbnn contributors. All rights reserved.
from .classification import (ClsCenterCrop, ClsRandomCrop, ClsRandomFlip,
                             ClsRandomResizedCrop, PackClsInputs,
                             ResizeShortEdge)

__all__ = [
    'ClsCenterCrop', 'ClsRandomCrop', 'ClsRandomFlip', 'ClsRandomResizedCrop',
    'PackClsInputs', 'ResizeShortEdge'
]
