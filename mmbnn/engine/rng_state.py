# Copyright (c) mmbnn contributors. All rights reserved.
"""``RNGStateHook``: checkpoints carry the random state of the training
process, so a resumed run draws the augmentations it would have drawn.

MMEngine seeds every random generator once, when the Runner starts, and
re-derives the sampler's order from ``seed + epoch``; the random
augmentations of the pipeline (``random`` / ``numpy.random`` in the main
process when ``num_workers=0``) and any ``torch`` draw continue from
wherever the generators stood. A resumed run therefore sees other crops
than the uninterrupted one. This hook saves the Python, NumPy and torch
(CPU and, where present, CUDA) generator states into every checkpoint and
restores them on resume.
"""
import random

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook

KEY = 'mmbnn_rng_state'


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the process's random generator states in checkpoints and
    restore them when a run resumes (a no-op for checkpoints without
    them)."""

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(python=random.getstate(),
                     numpy=np.random.get_state(),
                     torch=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint[KEY] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(KEY)
        if state is None:
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available() and \
                len(state['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['cuda'])
