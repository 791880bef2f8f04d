# Copyright (c) mmbnn contributors. All rights reserved.
from .rprelu import RPReLU

__all__ = ['RPReLU']
