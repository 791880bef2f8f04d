# Copyright (c) mmbnn contributors. All rights reserved.
"""Inference form of binary detectors: 1-bit packed weights, export and
loading of deploy checkpoints."""
from .conversion import convert_to_deploy, unfinished_progressive_layers
from .export import export_deploy_checkpoint, size_report
from .fusion import fuse_deploy_model
from .loading import (build_detector, build_student, default_input_shape,
                      is_deploy_checkpoint, load_config, load_deploy_model,
                      load_detector, load_student_config, static_input_shape)
from .packed_conv import BACKENDS, PackedBinaryConv, kernel_available
from .packing import pack_signs, packed_size, unpack_signs

__all__ = [
    'BACKENDS', 'PackedBinaryConv', 'build_detector', 'build_student',
    'convert_to_deploy', 'default_input_shape', 'export_deploy_checkpoint',
    'fuse_deploy_model', 'is_deploy_checkpoint', 'kernel_available',
    'load_config', 'load_deploy_model', 'load_detector',
    'load_student_config', 'pack_signs', 'packed_size', 'size_report',
    'static_input_shape', 'unfinished_progressive_layers', 'unpack_signs'
]
