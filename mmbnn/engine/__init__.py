# Copyright (c) mmbnn contributors. All rights reserved.
from .cpu_distributed import setup_cpu_distributed
from .logging import log_due, publish_scalars
from .rng_state import RNGStateHook
from .schedule import iteration_window

__all__ = [
    'RNGStateHook', 'iteration_window', 'log_due', 'publish_scalars',
    'setup_cpu_distributed'
]
