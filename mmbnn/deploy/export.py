# Copyright (c) mmbnn contributors. All rights reserved.
"""Deploy checkpoints: export a trained detector with 1-bit packed weights,
and rebuild the inference model from the file.

A deploy checkpoint is a plain ``torch.save`` of
``{'meta': {...}, 'state_dict': {...}}`` holding only tensors, strings and
numbers, so it loads with ``torch.load(weights_only=True)``. ``meta`` keeps
the config text (the model is rebuilt from it), the dataset meta, the
source checkpoint and the size report.
"""
import copy
import io
import os
import os.path as osp
from typing import Dict, Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from ..ops.binary_conv import BinaryConv
from .conversion import convert_to_deploy
from .packed_conv import PackedBinaryConv

DEPLOY_FORMAT = 'mmbnn-deploy'
DEPLOY_VERSION = 1
# state-dict key parts of the parameters and buffers that exist only for
# training
TRAINING_ONLY = tuple(f'.{child}.'
                      for child in BinaryConv.TRAINING_ONLY_CHILDREN)


def load_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """``config`` (a path or a Config) with ``cfg_options`` merged in."""
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_detector(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` in the config's default scope (mmdet's)."""
    import mmbnn  # noqa: F401  (registers mmbnn's modules)
    from mmdet.registry import MODELS
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return MODELS.build(cfg.model)


def _nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def _serialized_size(state_dict: Dict[str, torch.Tensor]) -> int:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.tell()


def size_report(trained: nn.Module, deploy: nn.Module) -> Dict[str, float]:
    """Bytes of the binarized layers and of the whole model, float vs deploy.

    Binarized layers: every tensor of the layer (float: weight, bias,
    threshold, learnable scale; deploy: packed bits, scale, bias,
    threshold), counted as raw tensor bytes. Whole model: the size of the
    serialized state dicts, the float one without training-only tensors
    (SURGE branches, StoMPP state).

    Args:
        trained (nn.Module): The model before :func:`convert_to_deploy`.
        deploy (nn.Module): The converted model.

    Returns:
        dict: Byte counts and the two ratios.
    """
    float_layers = {
        name: module for name, module in trained.named_modules()
        if isinstance(module, BinaryConv) and module.binarize_weight
    }
    float_bytes = sum(
        _nbytes([m.weight, m.bias, m.threshold, m.scale])
        for m in float_layers.values())
    deploy_bytes = sum(
        _nbytes([m.packed_weight, m.scale, m.bias, m.threshold])
        for m in deploy.modules() if isinstance(m, PackedBinaryConv))
    float_state = {
        key: value for key, value in trained.state_dict().items()
        if not any(part in f'.{key}' for part in TRAINING_ONLY)
    }
    model_float = _serialized_size(float_state)
    model_deploy = _serialized_size(deploy.state_dict())
    return dict(
        binary_layers=len(float_layers),
        binary_layers_float_bytes=float_bytes,
        binary_layers_deploy_bytes=deploy_bytes,
        binary_layers_ratio=float_bytes / max(deploy_bytes, 1),
        model_float_bytes=model_float,
        model_deploy_bytes=model_deploy,
        model_ratio=model_float / max(model_deploy, 1))


def _atomic_save(obj, path: str) -> None:
    """Write ``obj`` next to ``path`` and rename: a failure never leaves a
    half-written file at ``path``."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.{osp.basename(path)}.tmp-{os.getpid()}')
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def export_deploy_checkpoint(config: Union[str, Config],
                             checkpoint: str,
                             out: str,
                             force: bool = False,
                             cfg_options: Optional[dict] = None,
                             fuse: bool = False) -> Dict:
    """Export ``checkpoint`` of ``config`` as a deploy checkpoint at ``out``.

    Args:
        config (str | Config): The training config; of a distillation
            config, the student's (:func:`mmbnn.distill.student_config`).
        checkpoint (str): A trained MMEngine checkpoint of that config.
        out (str): Output file; written atomically, never the input file.
        force (bool): Export even if a StoMPP schedule is unfinished (see
            :func:`~mmbnn.deploy.convert_to_deploy`). Defaults to False.
        cfg_options (dict, optional): Overrides merged into the config.
        fuse (bool): Store the fused form (BNs folded, shortcut adds and
            activations in the packed convs' epilogues, see
            :mod:`mmbnn.deploy.fusion`); ``meta['fused']`` records it and
            :func:`load_deploy_model` rebuilds the same form. Defaults to
            False (the bit-exact form).

    Returns:
        dict: The size report (see :func:`size_report`) plus ``out``,
        ``out_file_bytes`` and ``checkpoint_file_bytes``.
    """
    if osp.abspath(out) == osp.abspath(checkpoint):
        raise ValueError(f'out={out!r} is the input checkpoint; choose '
                         'another file name')
    from ..distill import load_student_checkpoint, student_config

    # a distillation config exports its student alone (no teacher, no
    # adapters); its checkpoint loads strictly but for the adapters
    cfg = student_config(load_config(config, cfg_options))
    model = build_detector(cfg)
    source = load_student_checkpoint(model, checkpoint)
    trained = copy.deepcopy(model.eval())
    deploy = convert_to_deploy(model, force=force, fuse=fuse)
    report = size_report(trained, deploy)
    meta = dict(
        format=DEPLOY_FORMAT,
        version=DEPLOY_VERSION,
        config=cfg.pretty_text,
        source_checkpoint=osp.abspath(checkpoint),
        forced=bool(force),
        fused=bool(fuse),
        dataset_meta=source.get('meta', {}).get('dataset_meta', None),
        sizes=report)
    _atomic_save(dict(meta=meta, state_dict=deploy.state_dict()), out)
    return dict(report, out=osp.abspath(out),
                out_file_bytes=osp.getsize(out),
                checkpoint_file_bytes=osp.getsize(checkpoint))


def is_deploy_checkpoint(path: str) -> bool:
    """Whether ``path`` is a deploy checkpoint written by
    :func:`export_deploy_checkpoint` (read with ``weights_only=True``; an
    mmengine training checkpoint, which that refuses, is not one)."""
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception:  # noqa: BLE001 (any unreadable-as-deploy file)
        return False
    return (isinstance(data, dict)
            and isinstance(data.get('meta'), dict)
            and data['meta'].get('format') == DEPLOY_FORMAT)


def load_deploy_model(path: str,
                      device: str = 'cpu',
                      backend: str = 'auto') -> nn.Module:
    """Rebuild the inference model from a deploy checkpoint.

    The model is built from the config stored in the file, converted to
    its deploy form and loaded strictly. ``model.cfg`` and
    ``model.dataset_meta`` are set as mmdet's ``init_detector`` sets them, so
    ``mmdet.apis.inference_detector`` works on it.

    Args:
        path (str): A file written by :func:`export_deploy_checkpoint`.
        device (str): Device of the model. Defaults to ``'cpu'``.
        backend (str): Backend of the packed convs (``'auto'``,
            ``'kernel'``, ``'reference'``). Defaults to ``'auto'``.

    Returns:
        nn.Module: The deploy model, in eval mode.
    """
    data = torch.load(path, map_location='cpu', weights_only=True)
    meta = data.get('meta', {}) if isinstance(data, dict) else {}
    if meta.get('format') != DEPLOY_FORMAT:
        raise ValueError(f'{path} is not an mmbnn deploy checkpoint (meta.'
                         f"format={meta.get('format')!r}, expected "
                         f'{DEPLOY_FORMAT!r}); export one with '
                         'tools/deploy/export.py')
    if meta.get('version') != DEPLOY_VERSION:
        raise ValueError(f"{path}: deploy format version {meta.get('version')}"
                         f', this mmbnn reads version {DEPLOY_VERSION}')
    cfg = Config.fromstring(meta['config'], file_format='.py')
    model = build_detector(cfg)
    # a freshly built model is hard-binary (StoMPP p = 1): nothing to force;
    # fusing it gives the fused module layout, the state dict its values
    convert_to_deploy(model, backend=backend, force=True,
                      fuse=bool(meta.get('fused', False)))
    model.load_state_dict(data['state_dict'], strict=True)
    model.cfg = cfg
    if meta.get('dataset_meta') is not None:
        model.dataset_meta = meta['dataset_meta']
    return model.to(device).eval()
