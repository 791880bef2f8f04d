# Copyright (c) mmbnn contributors. All rights reserved.
"""RNGStateHook restores the saved random state on resume only."""
import random
from types import SimpleNamespace

import numpy as np
import torch

from mmbnn.engine import RNGStateHook


def test_restored_on_resume_only():
    hook, checkpoint = RNGStateHook(), {}
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    hook.before_save_checkpoint(None, checkpoint)
    expected = (random.random(), float(np.random.rand()),
                float(torch.rand(1)))
    for resume in (False, True):
        random.seed(2), np.random.seed(2), torch.manual_seed(2)
        hook.after_load_checkpoint(SimpleNamespace(_resume=resume),
                                   checkpoint)
        got = (random.random(), float(np.random.rand()),
               float(torch.rand(1)))
        if resume:
            assert got == expected
        else:  # load_from only: the run's own seed stays in charge
            assert all(g != e for g, e in zip(got, expected))
    # ranks with their own seeds keep them
    random.seed(2)
    hook.after_load_checkpoint(
        SimpleNamespace(_resume=True,
                        _randomness_cfg=dict(diff_rank_seed=True)),
        checkpoint)
    assert random.random() != expected[0]
