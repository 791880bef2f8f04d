# Copyright (c) mmbnn contributors. All rights reserved.
from .compensator import (AUX_INITS, AUX_WEIGHTS, LAMBDA_MODES,
                          SURGECompensator, strip_compensators)
from .hook import SURGEHook
from .schedule import ETA_SCHEDULES, eta_at

__all__ = [
    'AUX_INITS', 'AUX_WEIGHTS', 'LAMBDA_MODES', 'SURGECompensator',
    'strip_compensators', 'SURGEHook', 'ETA_SCHEDULES', 'eta_at'
]
