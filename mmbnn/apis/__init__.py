# Copyright (c) mmbnn contributors. All rights reserved.
from .demo import train_and_evaluate
from .launch import build_runner, run, test_parser, train_parser

__all__ = [
    'build_runner', 'run', 'test_parser', 'train_parser', 'train_and_evaluate'
]
