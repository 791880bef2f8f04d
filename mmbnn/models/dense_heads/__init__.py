# Copyright (c) mmbnn contributors. All rights reserved.
from .fixed_ssd_head import FixedSSDHead

__all__ = ['FixedSSDHead']
