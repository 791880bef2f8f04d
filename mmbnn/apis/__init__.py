# Copyright (c) mmbnn contributors. All rights reserved.
from .demo import draw_test_detections, evaluate_checkpoint, train_and_evaluate
from .launch import build_runner

__all__ = [
    'build_runner', 'draw_test_detections', 'evaluate_checkpoint',
    'train_and_evaluate'
]
