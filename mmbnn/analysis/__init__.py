# Copyright (c) mmbnn contributors. All rights reserved.
"""Model complexity reports and training-curve plots."""
from .complexity import (LayerComplexity, ModelComplexity, config_complexity,
                         count_complexity, default_input_shape,
                         detector_forward, format_table, tensor_forward)
from .curves import PLOTS, RenderedPlot, load_scalar_log, plot_curves

__all__ = [
    'LayerComplexity', 'ModelComplexity', 'config_complexity',
    'count_complexity', 'default_input_shape', 'detector_forward',
    'format_table', 'tensor_forward', 'PLOTS', 'RenderedPlot',
    'load_scalar_log', 'plot_curves'
]
