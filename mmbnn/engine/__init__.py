# Copyright (c) mmbnn contributors. All rights reserved.
from .cpu_distributed import setup_cpu_distributed
from .logging import log_due, publish_scalars
from .optim_wrapper import (AMP_WRAPPERS, SeparateClipAmpOptimWrapper,
                            SeparateClipOptimWrapper, is_training_only,
                            mark_training_only)
from .rng_state import RNGStateHook
from .schedule import iteration_window

__all__ = [
    'AMP_WRAPPERS', 'RNGStateHook', 'SeparateClipAmpOptimWrapper',
    'SeparateClipOptimWrapper', 'is_training_only',
    'iteration_window', 'log_due', 'mark_training_only', 'publish_scalars',
    'setup_cpu_distributed'
]
