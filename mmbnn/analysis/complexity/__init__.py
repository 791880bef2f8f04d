# Copyright (c) mmbnn contributors. All rights reserved.
"""Per-layer complexity of a (binary) model: parameters at deploy precision,
BOPs, FLOPs and OPs, counted during one real forward.

- :mod:`.results`: what a count returns (:class:`LayerComplexity`,
  :class:`ModelComplexity`, the precision labels);
- :mod:`.counting`: the per-layer counting rules and :func:`count_complexity`
  (with :func:`tensor_forward` for a plain module);
- :mod:`.detector`: the forward of an mmdet detector on a dummy image
  (:func:`detector_forward`) and :func:`config_complexity`;
- :mod:`.table`: the text report, :func:`format_table`.
"""
from ...deploy.loading import FALLBACK_SHAPE, default_input_shape
from .counting import (TRAINING_ONLY_CHILDREN, RunForward, count_complexity,
                       tensor_forward)
from .detector import (build_model_from_config, config_complexity,
                       detector_forward)
from .results import (BINARY, BINARY_ACT, BINARY_WEIGHT, REAL,
                      LayerComplexity, ModelComplexity)
from .table import format_table

__all__ = [
    'BINARY', 'BINARY_ACT', 'BINARY_WEIGHT', 'FALLBACK_SHAPE', 'REAL',
    'TRAINING_ONLY_CHILDREN', 'LayerComplexity', 'ModelComplexity',
    'RunForward', 'build_model_from_config', 'config_complexity',
    'count_complexity', 'default_input_shape', 'detector_forward',
    'format_table', 'tensor_forward'
]
