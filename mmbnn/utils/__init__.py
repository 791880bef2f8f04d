# Copyright (c) mmbnn contributors. All rights reserved.
from .checkpoint import trust_mmengine_checkpoints
from .config_checks import check_choice
from .modules import set_submodule

__all__ = ['check_choice', 'set_submodule', 'trust_mmengine_checkpoints']
