# Copyright (c) mmbnn contributors. All rights reserved.
"""The shared helpers of mmbnn.utils: pairs, atomic writes, unwrapping."""
import os

import pytest
from mmengine.model import MMDistributedDataParallel
from torch import nn

from mmbnn.utils import atomic_file, to_pair, unwrap_model


def test_to_pair():
    assert to_pair(3) == (3, 3)
    assert to_pair((2, 5)) == (2, 5)
    assert to_pair([4.0, 6]) == (4, 6)
    for bad in ((1, 2, 3), 'ab', None, 1.5):
        with pytest.raises(ValueError, match=r'^stride must be an int or '):
            to_pair(bad, 'stride')


def test_atomic_file_replaces_only_on_success(tmp_path):
    path = tmp_path / 'sub' / 'out.txt'
    with atomic_file(str(path)) as tmp:
        assert tmp.endswith('out.txt') and os.path.dirname(tmp) == str(
            path.parent)
        with open(tmp, 'w') as f:
            f.write('new')
        assert not path.exists()  # nothing at the path until the end
    assert path.read_text() == 'new'
    with pytest.raises(RuntimeError):
        with atomic_file(str(path)) as tmp:
            with open(tmp, 'w') as f:
                f.write('half')
            raise RuntimeError('writer failed')
    assert path.read_text() == 'new'
    assert os.listdir(path.parent) == ['out.txt']  # no temporary left


def test_unwrap_model():
    model = nn.Linear(2, 2)
    assert unwrap_model(model) is model
    # a registered wrapper type, without starting a process group
    wrapper = MMDistributedDataParallel.__new__(MMDistributedDataParallel)
    nn.Module.__init__(wrapper)
    wrapper.module = model
    assert unwrap_model(wrapper) is model
