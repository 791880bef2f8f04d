# Copyright (c) mmbnn contributors. All rights reserved.
from .accuracy import ClsAccuracy, topk_accuracy

__all__ = ['ClsAccuracy', 'topk_accuracy']
