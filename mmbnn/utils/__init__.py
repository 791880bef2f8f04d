# Copyright (c) mmbnn contributors. All rights reserved.
from .checkpoint import trust_mmengine_checkpoints
from .config_checks import check_choice

__all__ = ['check_choice', 'trust_mmengine_checkpoints']
