# Copyright (c) mmbnn contributors. All rights reserved.
from .binary_rpn_head import BinaryRPNHead
from .fixed_ssd_head import FixedSSDHead

__all__ = ['BinaryRPNHead', 'FixedSSDHead']
