# Copyright (c) mmbnn contributors. All rights reserved.
"""The frozen teacher: its config, its checkpoint and its inputs."""
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from torch import Tensor, nn

# where a relative teacher config is looked for after the working directory:
# the folder above the mmbnn package (a source checkout's root)
_PACKAGE_ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.abspath(__file__))))


def _is_url(path: str) -> bool:
    return '://' in path


def resolve_teacher_cfg_path(path: str) -> str:
    """The file behind ``model.teacher_cfg``.

    Accepts an absolute path, a path relative to the working directory or
    to the directory holding mmbnn's ``configs/`` (a source checkout), and
    ``package::relative/path.py`` for a config shipped with an OpenMMLab
    package (``mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py``).

    Raises:
        FileNotFoundError: naming ``model.teacher_cfg``.
    """
    if '::' in path:
        from mmengine.config.utils import _get_package_and_cfg_path
        from mmengine.utils import get_installed_path
        package, rel = _get_package_and_cfg_path(path)
        try:
            candidate = osp.join(get_installed_path(package), '.mim',
                                 'configs', rel)
        except Exception:  # noqa: BLE001 (package not installed)
            candidate = ''
        if osp.isfile(candidate):
            return path  # loaded through mmengine.hub.get_config
        raise FileNotFoundError(
            f'model.teacher_cfg={path!r}: no such config in the installed '
            f'{package!r} package')
    for candidate in (path, osp.join(_PACKAGE_ROOT, path)):
        if osp.isfile(candidate):
            return osp.abspath(candidate)
    raise FileNotFoundError(
        f'model.teacher_cfg={path!r}: no such config file (looked in the '
        f'working directory and in {_PACKAGE_ROOT})')


def load_teacher_config(teacher_cfg: Union[str, dict, Config]) -> Config:
    """The teacher's full config from ``model.teacher_cfg`` (a path, a
    ``package::path``, a Config or a dict holding ``model``)."""
    if isinstance(teacher_cfg, Config):
        cfg = teacher_cfg
    elif isinstance(teacher_cfg, dict):
        cfg = Config(dict(teacher_cfg))
    else:
        path = resolve_teacher_cfg_path(teacher_cfg)
        if '::' in path:
            from mmengine.hub import get_config
            cfg = get_config(path)
        else:
            cfg = Config.fromfile(path)
    if 'model' not in cfg:
        raise ValueError(f'model.teacher_cfg={teacher_cfg!r} has no model')
    return cfg


def build_teacher(teacher_cfg: Union[str, dict, Config]) -> nn.Module:
    """Build the teacher detector of ``teacher_cfg`` (weights not loaded).

    The teacher's own ``custom_imports`` are imported first; a config whose
    ``data_preprocessor`` sits at the top level (some OpenMMLab configs)
    gets it moved into the model, as mmengine's ``get_model`` does.
    """
    from mmdet.registry import MODELS
    cfg = load_teacher_config(teacher_cfg)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    model_cfg = ConfigDict(cfg.model)
    if 'data_preprocessor' not in model_cfg and 'data_preprocessor' in cfg:
        model_cfg.data_preprocessor = cfg.data_preprocessor
    return MODELS.build(model_cfg)


def load_teacher_checkpoint(teacher: nn.Module, teacher_ckpt: str) -> dict:
    """Load ``model.teacher_ckpt`` (a path or URL) strictly into the teacher.

    Raises:
        FileNotFoundError: a local path that does not exist (naming
            ``model.teacher_ckpt``).
        RuntimeError: weights that do not fit ``model.teacher_cfg``.
    """
    from mmengine.runner import load_checkpoint
    if not _is_url(teacher_ckpt) and not osp.isfile(teacher_ckpt):
        raise FileNotFoundError(
            f'model.teacher_ckpt={teacher_ckpt!r}: no such file. Train the '
            'teacher config first (tools/train.py) and point '
            'model.teacher_ckpt at its checkpoint (e.g. --cfg-options '
            'model.teacher_ckpt=PATH)')
    try:
        return load_checkpoint(teacher, teacher_ckpt, map_location='cpu',
                               strict=True, logger='silent')
    except RuntimeError as error:
        raise RuntimeError(
            f'model.teacher_ckpt={teacher_ckpt!r} does not fit the model of '
            f'model.teacher_cfg: {error}') from error


def freeze(teacher: nn.Module) -> nn.Module:
    """Evaluation mode (BN uses and keeps its running statistics) and no
    gradient for any parameter."""
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


def _norm_state(preprocessor: Optional[nn.Module]):
    if preprocessor is None or not hasattr(preprocessor, 'mean'):
        return None
    if not getattr(preprocessor, '_enable_normalize', False):
        return None
    return preprocessor.mean, preprocessor.std


def renormalize(inputs: Tensor, student_preprocessor: nn.Module,
                teacher_preprocessor: nn.Module) -> Tensor:
    """The student's preprocessed batch as the teacher's preprocessor would
    have produced it: undo the student's mean/std (and channel order), apply
    the teacher's. Returned unchanged when both do the same.

    Padding cells (0 after the student's normalization) become the
    student's mean pixel in the teacher's normalization.
    """
    s_norm = _norm_state(student_preprocessor)
    t_norm = _norm_state(teacher_preprocessor)
    s_flip = bool(getattr(student_preprocessor, '_channel_conversion',
                          False))
    t_flip = bool(getattr(teacher_preprocessor, '_channel_conversion',
                          False))
    same_norm = (s_norm is None and t_norm is None) or (
        s_norm is not None and t_norm is not None
        and torch.equal(s_norm[0].cpu(), t_norm[0].cpu())
        and torch.equal(s_norm[1].cpu(), t_norm[1].cpu()))
    if same_norm and s_flip == t_flip:
        return inputs
    raw = inputs
    if s_norm is not None:
        raw = raw * s_norm[1].to(raw) + s_norm[0].to(raw)
    if s_flip != t_flip and raw.shape[1] == 3:
        raw = raw[:, [2, 1, 0], ...]
    if t_norm is not None:
        raw = (raw - t_norm[0].to(raw)) / t_norm[1].to(raw)
    return raw
