# Copyright (c) mmbnn contributors. All rights reserved.
from .cpu_distributed import setup_cpu_distributed
from .logging import log_due, publish_scalars
from .nonfinite import NonFiniteCheckHook
from .optim_wrapper import (AMP_WRAPPERS, SeparateClipAmpOptimWrapper,
                            SeparateClipOptimWrapper, is_training_only,
                            mark_training_only)
from .rng_state import RNGStateHook
from .schedule import SCALAR_SCHEDULES, iteration_window, scalar_at
from .scheduled_hook import ScalarScheduleHook, ScheduledHook

__all__ = [
    'AMP_WRAPPERS', 'NonFiniteCheckHook', 'RNGStateHook',
    'SCALAR_SCHEDULES', 'ScalarScheduleHook', 'ScheduledHook',
    'SeparateClipAmpOptimWrapper', 'SeparateClipOptimWrapper',
    'is_training_only', 'iteration_window', 'log_due', 'mark_training_only',
    'publish_scalars', 'scalar_at', 'setup_cpu_distributed'
]
