# Copyright (c) mmbnn contributors. All rights reserved.
from .cpu_distributed import setup_cpu_distributed
from .logging import log_due, publish_scalars
from .schedule import iteration_window

__all__ = [
    'iteration_window', 'log_due', 'publish_scalars', 'setup_cpu_distributed'
]
