# Copyright (c) mmbnn contributors. All rights reserved.
import os.path as osp

import pytest

import mmbnn  # noqa: F401  (registers modules)
from mmbnn.utils import trust_mmengine_checkpoints

# the Runner-based tests resume from MMEngine checkpoints they wrote
trust_mmengine_checkpoints()

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture
def mmdet_scope():
    """Run the test inside mmdet's default scope, as a Runner would."""
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmdet')
    yield
    DefaultScope._instance_dict.clear()
