# Copyright (c) mmbnn contributors. All rights reserved.
"""Deploy checkpoints: export a trained detector with 1-bit packed weights
(the model is rebuilt from the file by
:func:`mmbnn.deploy.loading.load_deploy_model`).

A deploy checkpoint is a plain ``torch.save`` of
``{'meta': {...}, 'state_dict': {...}}`` holding only tensors, strings and
numbers, so it loads with ``torch.load(weights_only=True)``. ``meta`` keeps
the config text (the model is rebuilt from it), the dataset meta, the
source checkpoint and the size report.
"""
import copy
import io
import os.path as osp
from typing import Dict, Optional, Union

import torch
from mmengine.config import Config
from torch import nn

from ..ops.binary_conv import BinaryConv
from ..utils import atomic_file
from .conversion import convert_to_deploy
# the loaders live in .loading; kept importable from here
from .loading import (DEPLOY_FORMAT, DEPLOY_VERSION, build_detector,
                      build_student, is_deploy_checkpoint, load_config,
                      load_deploy_model)
from .packed_conv import PackedBinaryConv

__all__ = [
    'DEPLOY_FORMAT', 'DEPLOY_VERSION', 'build_detector',
    'export_deploy_checkpoint', 'is_deploy_checkpoint', 'load_config',
    'load_deploy_model', 'size_report'
]
# state-dict key parts of the parameters and buffers that exist only for
# training
TRAINING_ONLY = tuple(f'.{child}.'
                      for child in BinaryConv.TRAINING_ONLY_CHILDREN)


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
    # a distillation config exports its student alone (no teacher, no
    # adapters); its checkpoint loads strictly but for the adapters
    cfg, model, source = build_student(config, checkpoint, cfg_options)
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
    with atomic_file(out) as tmp:
        torch.save(dict(meta=meta, state_dict=deploy.state_dict()), tmp)
    return dict(report, out=osp.abspath(out),
                out_file_bytes=osp.getsize(out),
                checkpoint_file_bytes=osp.getsize(checkpoint))
