# Copyright (c) mmbnn contributors. All rights reserved.
from .schedule import iteration_window

__all__ = ['iteration_window']
