# Copyright (c) mmbnn contributors. All rights reserved.
from .checkpoint import trust_mmengine_checkpoints
from .config_checks import check_choice
from .files import atomic_file
from .geometry import IntPair, to_pair
from .modules import set_submodule, unwrap_model

__all__ = [
    'IntPair', 'atomic_file', 'check_choice', 'set_submodule', 'to_pair',
    'trust_mmengine_checkpoints', 'unwrap_model'
]
