# Copyright (c) mmbnn contributors. All rights reserved.
"""The eta schedule of SURGE's Adaptive Gradient Scaler: the scalar
schedules of :mod:`mmbnn.engine.schedule` under SURGE's names."""
from ..engine.schedule import SCALAR_SCHEDULES as ETA_SCHEDULES
from ..engine.schedule import scalar_at as eta_at

__all__ = ['ETA_SCHEDULES', 'eta_at']
