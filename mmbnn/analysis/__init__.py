# Copyright (c) mmbnn contributors. All rights reserved.
"""Analysis of mmbnn models and runs.

Exported here: model complexity reports (:mod:`.complexity`) and
training-curve plots (:mod:`.curves`). Imported by module, by the tools in
``tools/analysis_tools``: the comparison of training rules over seeds
(:mod:`.compare`) and the CPU benchmarks of training steps
(:mod:`.benchmark_training`), of the packed binary conv
(:mod:`.benchmark_binary_conv`) and of whole detectors
(:mod:`.benchmark_detector`), and the machine limit of OpenVINO networks
(:mod:`.hardware_limit`).
"""
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
