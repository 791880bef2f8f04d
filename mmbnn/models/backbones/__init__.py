# Copyright (c) mmbnn contributors. All rights reserved.
from .bireal_resnet import BiRealResNet

__all__ = ['BiRealResNet']
