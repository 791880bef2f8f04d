# Copyright (c) mmbnn contributors. All rights reserved.
from .checkpoint import allow_trusted_checkpoints

__all__ = ['allow_trusted_checkpoints']
