# Copyright (c) mmbnn contributors. All rights reserved.
"""The student alone: out of a distillation config, model or checkpoint.

The deploy export and the complexity report go through these, so that what
they build, count and export is the student (no teacher, no adapters).
"""
import copy
from collections import OrderedDict
from typing import Union

from mmengine.config import Config, ConfigDict
from mmengine.runner.checkpoint import _load_checkpoint, load_state_dict
from torch import nn

from ..utils import unwrap_model
from .detectors import DISTILL_MODEL_KEYS, DISTILL_STATE_PREFIX, DistillMixin


def is_distill_model_cfg(model_cfg: dict) -> bool:
    """Whether ``model_cfg`` builds a distillation detector."""
    from mmdet.registry import MODELS
    model_type = model_cfg.get('type') if model_cfg else None
    if not isinstance(model_type, str):
        return isinstance(model_type, type) and issubclass(
            model_type, DistillMixin)
    cls = MODELS.get(model_type)
    return cls is not None and issubclass(cls, DistillMixin)


def student_config(cfg: Config) -> Config:
    """``cfg`` with the model replaced by the plain student: ``type`` set to
    ``model.student_type`` (or the wrapper's default), the distillation keys
    and the ``DistillHook`` removed. A config that is not a distillation
    config is returned as it is.

    Args:
        cfg (Config): A config (a copy is changed, never ``cfg``).

    Returns:
        Config: The student's config.
    """
    from mmdet.registry import MODELS
    if not is_distill_model_cfg(cfg.get('model')):
        return cfg
    cfg = copy.deepcopy(cfg)
    model = cfg.model
    wrapper = model['type']
    if isinstance(wrapper, str):
        wrapper = MODELS.get(wrapper)
    student_type = model.get('student_type') or wrapper.default_student_type
    plain = ConfigDict({
        key: value
        for key, value in model.items() if key not in DISTILL_MODEL_KEYS
    })
    plain['type'] = student_type
    cfg.model = plain
    hooks = cfg.get('custom_hooks')
    if hooks:
        cfg.custom_hooks = [
            hook for hook in hooks
            if str(hook.get('type', '')).split('.')[-1] != 'DistillHook'
        ]
    return cfg


def unwrap_distill(model: nn.Module) -> nn.Module:
    """The student of a distillation detector (sharing its submodules, see
    :meth:`DistillMixin.student_model`); any other model (after removing a
    DDP-style wrapper) as it is."""
    model = unwrap_model(model)
    if isinstance(model, DistillMixin):
        return model.student_model()
    return model


def strip_distill_state(state_dict: dict) -> 'OrderedDict':
    """``state_dict`` without the distillation-only entries (the adapters
    under ``distill_losses.``) and without a ``module.`` prefix."""
    result = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if not key.startswith(DISTILL_STATE_PREFIX):
            result[key] = value
    return result


def load_student_checkpoint(model: nn.Module,
                            filename: str,
                            map_location: Union[str, None] = 'cpu',
                            strict: bool = True) -> dict:
    """Load a checkpoint of a student or of a distillation detector into a
    plain student, dropping the adapters (strict on everything else).

    Args:
        model (nn.Module): The plain student.
        filename (str): The checkpoint (path or URL).
        map_location (str): Defaults to ``'cpu'``.
        strict (bool): Require every remaining key to match. Defaults to
            True.

    Returns:
        dict: The loaded checkpoint (its ``meta`` and ``state_dict``).
    """
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    if not isinstance(checkpoint, dict):
        raise RuntimeError(f'no state_dict found in {filename}')
    state = checkpoint.get('state_dict', checkpoint)
    metadata = getattr(state, '_metadata', None)
    state = strip_distill_state(state)
    if metadata is not None:
        state._metadata = metadata
    load_state_dict(model, state, strict=strict, logger='silent')
    return checkpoint
