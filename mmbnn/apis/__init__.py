# Copyright (c) mmbnn contributors. All rights reserved.
from .demo import evaluate_checkpoint, train_and_evaluate
from .launch import build_runner, run, test_parser, train_parser

__all__ = [
    'build_runner', 'evaluate_checkpoint', 'run', 'test_parser',
    'train_parser', 'train_and_evaluate'
]
