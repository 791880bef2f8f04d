# Copyright (c) mmbnn contributors. All rights reserved.
"""Test-only hook: every rank of a distributed run writes fingerprints of
its model state, so a test can compare the ranks (MMEngine checkpoints come
from rank 0 only).

Imported by the distributed test's configs through ``custom_imports``.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmbnn.stompp.masking import StoMPPMasking
from mmbnn.utils import unwrap_model


def fingerprint(tensor: torch.Tensor) -> str:
    """SHA-256 of the tensor's dtype, shape and bytes (bit-exact)."""
    array = tensor.detach().cpu().contiguous().numpy()
    digest = hashlib.sha256(f'{array.dtype}{array.shape}'.encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def model_state(model: torch.nn.Module) -> Dict[str, dict]:
    """Fingerprints of parameters, buffers and StoMPP weight masks, plus the
    frozen fraction of every mask."""
    masks = {
        name: module.weight_mask()
        for name, module in model.named_modules()
        if isinstance(module, StoMPPMasking)
    }
    return dict(
        params={n: fingerprint(p)
                for n, p in model.named_parameters()},
        buffers={n: fingerprint(b)
                 for n, b in model.named_buffers()},
        masks={n: fingerprint(m)
               for n, m in masks.items()},
        frozen={n: float(m.float().mean())
                for n, m in masks.items()})


@HOOKS.register_module(force=True)
class RankStateDumpHook(Hook):
    """Write ``out_dir/rank<r>.json`` with :func:`model_state` before the
    first and after the last training iteration (``'init'``, ``'final'``).

    Args:
        out_dir (str): Output folder, shared by all ranks.
    """

    priority = 'LOWEST'

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.states: Dict[str, dict] = {}

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        model = runner.model
        return unwrap_model(model)

    def before_train(self, runner) -> None:
        self.states['init'] = model_state(self._model(runner))

    def after_train(self, runner) -> None:
        self.states['final'] = model_state(self._model(runner))
        self.states['world_size'] = runner.world_size
        os.makedirs(self.out_dir, exist_ok=True)
        with open(osp.join(self.out_dir, f'rank{runner.rank}.json'),
                  'w') as f:
            json.dump(self.states, f)
