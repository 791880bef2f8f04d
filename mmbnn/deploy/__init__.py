# Copyright (c) mmbnn contributors. All rights reserved.
"""Inference form of binary detectors: 1-bit packed weights, export and
loading of deploy checkpoints."""
from .conversion import convert_to_deploy, unfinished_progressive_layers
from .export import (build_detector, export_deploy_checkpoint,
                     is_deploy_checkpoint, load_config, load_deploy_model,
                     size_report)
from .fusion import fuse_deploy_model
from .packed_conv import BACKENDS, PackedBinaryConv, kernel_available
from .packing import pack_signs, packed_size, unpack_signs

__all__ = [
    'BACKENDS', 'PackedBinaryConv', 'build_detector', 'convert_to_deploy',
    'export_deploy_checkpoint', 'fuse_deploy_model', 'is_deploy_checkpoint',
    'kernel_available', 'load_config',
    'load_deploy_model',
    'pack_signs', 'packed_size', 'size_report',
    'unfinished_progressive_layers', 'unpack_signs'
]
