# Copyright (c) mmbnn contributors. All rights reserved.
"""``RNGStateHook``: checkpoints carry the random state of the training
processes, so a resumed run draws the augmentations it would have drawn.

MMEngine seeds every random generator once, when the Runner starts, and
re-derives the sampler's order from ``seed + epoch``; the random
augmentations of the pipeline (``random`` / ``numpy.random`` in the main
process when ``num_workers=0``) and any ``torch`` draw continue from
wherever the generators stood. A resumed run therefore sees other crops
than the uninterrupted one. This hook saves every rank's Python, NumPy and
torch (CPU and current CUDA device) generator states into each checkpoint
and restores its own on resume (not on a plain ``load_from``).

Exact resume needs ``num_workers=0``: the state of dataloader worker
processes is not saved (they are re-seeded by MMEngine when they start).
"""
import random

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
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
    """Save every rank's random generator states in checkpoints and restore
    them when a run resumes (a no-op for checkpoints without them and for
    a run that only loads weights)."""

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # every rank calls this hook; rank 0 writes the file
        checkpoint[KEY] = all_gather_object(_local_state()) \
            if get_world_size() > 1 else [_local_state()]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get(KEY)
        if states is None or not getattr(runner, '_resume', False):
            return
        if len(states) != get_world_size():
            print_log(f'RNGStateHook: the checkpoint holds {len(states)} '
                      f'ranks\' random states, this run has '
                      f'{get_world_size()}: not restored', logger='current')
            return
        state = states[get_rank()]
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        # Runner.resume maps tensors to the run's device: states are CPU
        torch.set_rng_state(state['torch'].cpu())
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state(state['cuda'].cpu())
