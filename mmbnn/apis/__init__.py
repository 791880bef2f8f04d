# Copyright (c) mmbnn contributors. All rights reserved.
from .launch import build_runner, run, test_parser, train_parser

__all__ = ['build_runner', 'run', 'test_parser', 'train_parser']
