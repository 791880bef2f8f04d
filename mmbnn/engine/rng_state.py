# Copyright (c) mmbnn contributors. All rights reserved.
"""``RNGStateHook``: checkpoints carry the random state of the training
processes, so a resumed run draws the augmentations it would have drawn.

MMEngine seeds every random generator once, when the Runner starts, and
re-derives the sampler's order from ``seed + epoch``; the random
augmentations of the pipeline (``random`` / ``numpy.random`` in the main
process when ``num_workers=0``) and any ``torch`` draw continue from
wherever the generators stood. A resumed run therefore sees other crops
than the uninterrupted one. This hook saves the Python, NumPy and torch
(CPU and current CUDA device) generator states into each checkpoint and
restores them on resume (not on a plain ``load_from``).

Checkpoints are written by rank 0 alone (``Runner.save_checkpoint`` is
master-only), so they hold rank 0's states; every rank restores them, which
is exact when the ranks share one seed (MMEngine's default,
``randomness.diff_rank_seed=False``) and is skipped otherwise. Exact resume
also needs ``num_workers=0``: the state of dataloader worker processes is
not saved (MMEngine re-seeds them when they start).
"""
import random

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log

KEY = 'mmbnn_rng_state'


def _local_state() -> dict:
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random generator states in checkpoints and restore them
    when a run resumes (a no-op for checkpoints without them and for a run
    that only loads weights)."""

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[KEY] = _local_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get(KEY)
        if state is None or not getattr(runner, '_resume', False):
            return
        randomness = getattr(runner, '_randomness_cfg', None) or {}
        if randomness.get('diff_rank_seed', False):
            print_log('RNGStateHook: ranks have their own seeds '
                      '(diff_rank_seed=True); random states not restored',
                      logger='current')
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        # Runner.resume maps tensors to the run's device: states are CPU
        torch.set_rng_state(state['torch'].cpu())
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state['cuda'].cpu())
