# Copyright (c) mmbnn contributors. All rights reserved.
from .synthetic import DEMO_CLASSES, generate_demo_dataset

__all__ = ['DEMO_CLASSES', 'generate_demo_dataset']
