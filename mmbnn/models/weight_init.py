# Copyright (c) mmbnn contributors. All rights reserved.
"""``BinaryPretrained``: load a binary backbone from an mmbnn checkpoint with
exact key coverage.

mmengine's ``Pretrained`` initializer loads non-strictly: a key that is
missing or misnamed only gets a log line, and a binary backbone would train
on with some convs, thresholds or RPReLUs silently left at their init.
``BinaryPretrained`` loads every parameter and buffer of the backbone from
the checkpoint (under ``prefix``) and raises, naming the keys, when one is
missing, unexpected or of another shape.

The training-only state of the training rules (see
:attr:`~mmbnn.ops.BinaryConv.TRAINING_ONLY_CHILDREN`) is handled on
purpose, on both sides:

- SURGE's auxiliary branch (``*.compensator.*``) of the checkpoint is
  dropped; a SURGE backbone being initialized keeps its own, whose
  ``aux_init='copy'`` copies the loaded latent weights at the first step.
- StoMPP's state (``*.progressive.*``) of the checkpoint must describe a
  finished schedule (every frozen fraction 1, i.e. a fully binary network)
  and is then dropped: the loaded latent weights binarized by ``sign`` are
  the network the schedule ended with. An unfinished one is refused
  unless ``allow_unfinished=True``. A StoMPP backbone being initialized
  keeps its own state (its hook starts a new schedule).
"""
from typing import Dict, List, Optional

import torch
from mmengine.logging import print_log
from mmengine.registry import WEIGHT_INITIALIZERS
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor, nn

from ..ops import BinaryConv

TRAINING_ONLY = tuple(f'.{name}.'
                      for name in BinaryConv.TRAINING_ONLY_CHILDREN)


def _training_only(key: str) -> bool:
    return any(part in f'.{key}' for part in TRAINING_ONLY)


def _listing(keys: List[str], limit: int = 8) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit
                    else '')


def unfinished_progressive_layers(state: Dict[str, Tensor]) -> List[str]:
    """Layers of a state dict whose StoMPP frozen fractions are below 1."""
    return sorted(
        key.rsplit('.progressive.', 1)[0] for key, value in state.items()
        if key.endswith(('.progressive.p_weight', '.progressive.p_act'))
        and float(value) < 1)


def load_binary_backbone(module: nn.Module,
                         checkpoint: str,
                         prefix: str = 'backbone.',
                         allow_unfinished: bool = False,
                         map_location: str = 'cpu') -> Dict[str, Tensor]:
    """Load ``module`` from the ``prefix`` part of ``checkpoint``, exactly.

    Args:
        module (nn.Module): The backbone to initialize.
        checkpoint (str): Path or URL of an MMEngine checkpoint (or a plain
            state dict).
        prefix (str): The backbone's key prefix in the checkpoint.
            Defaults to ``'backbone.'`` (a classifier's or a detector's).
        allow_unfinished (bool): Accept the weights of an unfinished
            StoMPP schedule. Defaults to False.
        map_location (str): Defaults to ``'cpu'``.

    Returns:
        dict: The state dict that was loaded.

    Raises:
        KeyError: no key starts with ``prefix``.
        RuntimeError: missing, unexpected or mis-shaped keys, or an
            unfinished StoMPP schedule; the message names them.
    """
    ckpt = CheckpointLoader.load_checkpoint(checkpoint,
                                            map_location=map_location)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    source = {k[len(prefix):]: v for k, v in state.items()
              if k.startswith(prefix)}
    where = f'init_cfg.checkpoint={checkpoint!r} (prefix={prefix!r})'
    if not source:
        raise KeyError(f'{where}: no key starts with the prefix; keys look '
                       f'like {_listing(sorted(state)[:3], 3)}')
    unfinished = unfinished_progressive_layers(source)
    if unfinished and not allow_unfinished:
        raise RuntimeError(
            f'{where}: a StoMPP schedule that did not finish (frozen '
            f'fraction < 1 in {_listing(unfinished)}); these weights are '
            'not a binary network. Train to the end of the schedule, or '
            'set init_cfg.allow_unfinished=True')
    source = {k: v for k, v in source.items() if not _training_only(k)}
    target = {k: v for k, v in module.state_dict().items()
              if not _training_only(k)}
    missing = sorted(set(target) - set(source))
    unexpected = sorted(set(source) - set(target))
    shapes = sorted(f'{k} {tuple(source[k].shape)} != '
                    f'{tuple(target[k].shape)}'
                    for k in set(source) & set(target)
                    if source[k].shape != target[k].shape)
    problems = []
    if missing:
        problems.append(f'missing in the checkpoint: {_listing(missing)}')
    if unexpected:
        problems.append(f'unexpected (not in the model): '
                        f'{_listing(unexpected)}')
    if shapes:
        problems.append(f'shape mismatch: {_listing(shapes)}')
    if problems:
        raise RuntimeError(f'{where} does not fit '
                           f'{type(module).__name__}: ' + '; '.join(problems))
    with torch.no_grad():
        result = module.load_state_dict(source, strict=False)
    assert not result.unexpected_keys  # checked above
    return source


@WEIGHT_INITIALIZERS.register_module('BinaryPretrained')
class BinaryPretrainedInit:
    """``init_cfg=dict(type='BinaryPretrained', checkpoint=...,
    prefix='backbone.')``: :func:`load_binary_backbone` as an initializer.

    :class:`~mmbnn.models.BinaryResNet` and
    :class:`~mmbnn.models.BiRealResNet` apply it after every other
    initializer of theirs, as mmengine does with ``Pretrained``.

    Args:
        checkpoint (str): The checkpoint.
        prefix (str): Key prefix of the backbone in it. Defaults to
            ``'backbone.'``.
        allow_unfinished (bool): See :func:`load_binary_backbone`.
        map_location (str): Defaults to ``'cpu'``.
    """

    def __init__(self,
                 checkpoint: str,
                 prefix: Optional[str] = 'backbone.',
                 allow_unfinished: bool = False,
                 map_location: str = 'cpu') -> None:
        self.checkpoint, self.prefix = checkpoint, prefix or ''
        self.allow_unfinished = allow_unfinished
        self.map_location = map_location

    def __call__(self, module: nn.Module) -> None:
        print_log(f'BinaryPretrained: loading every {self.prefix!r} key '
                  f'from {self.checkpoint}', logger='current')
        load_binary_backbone(module, self.checkpoint, self.prefix,
                             self.allow_unfinished, self.map_location)


class BinaryPretrainedMixin:
    """Apply a ``BinaryPretrained`` entry of ``init_cfg`` after every other
    initializer and the children's ``init_weights`` (mmengine does so for
    its own ``Pretrained`` type only). Mixed into mmbnn's binary backbones,
    before ``BaseModule``."""

    def init_weights(self) -> None:
        cfgs = self.init_cfg
        cfgs = [cfgs] if isinstance(cfgs, dict) else list(cfgs or [])
        late = [c for c in cfgs if c.get('type') == 'BinaryPretrained']
        if not late or self._is_init:
            super().init_weights()
            return
        self.init_cfg = [c for c in cfgs if c not in late] or None
        try:
            super().init_weights()
        finally:
            self.init_cfg = cfgs
        from mmengine.model import initialize
        initialize(self, late)
