# Copyright (c) mmbnn contributors. All rights reserved.
"""From a config and a checkpoint to a model: mmbnn's ``init_detector``.

Configs (:func:`load_config`), models built in mmdet's scope
(:func:`build_detector`), the student of a distillation config
(:func:`build_student`), deploy checkpoints (:func:`load_deploy_model`),
the unfused deploy form the ONNX export and the float64 reference start
from (:func:`load_detector`) and the test input size of a config
(:func:`default_input_shape`, :func:`static_input_shape`).

Layering: this module needs :mod:`mmbnn.distill` (the student) and
:mod:`mmbnn.deploy.conversion`; ``deploy``'s other modules, ``analysis``,
``apis`` and the tools import it, and nothing below ``deploy`` (``utils``,
``ops``, ``models``, ``distill``) does, so it closes no import cycle.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

from ..distill import load_student_checkpoint, student_config
from .conversion import convert_to_deploy

DEPLOY_FORMAT = 'mmbnn-deploy'
DEPLOY_VERSION = 1
# Used when neither ``shape`` nor the config's test pipeline gives a size.
FALLBACK_SHAPE = (800, 1333)
# classification transforms whose ``size`` is the network's input size
_SIZED_STEPS = ('ClsCenterCrop', 'ClsRandomCrop', 'ClsRandomResizedCrop',
                'ResizeShortEdge')


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


def load_student_config(config: Union[str, Config],
                        cfg_options: Optional[dict] = None) -> Config:
    """:func:`load_config`, then of a distillation config the student's
    (:func:`mmbnn.distill.student_config`: no teacher, no adapters); any
    other config as it is."""
    return student_config(load_config(config, cfg_options))


def build_student(config: Union[str, Config],
                  checkpoint: Optional[str] = None,
                  cfg_options: Optional[dict] = None,
                  init_weights: bool = False
                  ) -> Tuple[Config, nn.Module, Optional[dict]]:
    """Build the model of ``config`` (of a distillation config, its student
    alone) and load ``checkpoint`` into it.

    Args:
        config (str | Config): The training config.
        checkpoint (str, optional): A training checkpoint of the config
            (of a distillation config: the adapters are dropped, every
            other key loads strictly).
        cfg_options (dict, optional): Overrides merged into the config.
        init_weights (bool): Without a checkpoint, run the config's weight
            initialisation (``init_cfg``; it may download). Defaults to
            False: the weights the modules are built with.

    Returns:
        tuple: ``(cfg, model, loaded)``: the student's config, the model
        (train mode, as built) and the loaded checkpoint (its ``meta`` and
        ``state_dict``; None without one).
    """
    cfg = load_student_config(config, cfg_options)
    model = build_detector(cfg)
    loaded = None
    if checkpoint is not None:
        loaded = load_student_checkpoint(model, checkpoint)
    elif init_weights:
        model.init_weights()
    return cfg, model, loaded


def is_deploy_checkpoint(path: str) -> bool:
    """Whether ``path`` is a deploy checkpoint written by
    :func:`~mmbnn.deploy.export_deploy_checkpoint` (read with
    ``weights_only=True``; an mmengine training checkpoint, which that
    refuses, is not one)."""
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
        path (str): A file written by
            :func:`~mmbnn.deploy.export_deploy_checkpoint`.
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


def load_detector(config: str,
                  checkpoint: Optional[str] = None,
                  cfg_options: Optional[dict] = None,
                  force: bool = False) -> nn.Module:
    """The deploy form (unfused, float reference backend) of a detector.

    Args:
        config (str): The training config.
        checkpoint (str, optional): A training checkpoint of it or a deploy
            checkpoint (:func:`~mmbnn.deploy.export_deploy_checkpoint`; then
            ``config`` may be None: the file holds its config). None: the
            weights the config initialises (nothing is downloaded only if
            the config's ``init_cfg`` needs no download).
        cfg_options (dict, optional): Overrides merged into the config.
        force (bool): Convert an unfinished StoMPP model anyway.

    Returns:
        nn.Module: The deploy model (eval mode), with ``cfg`` set.

    Raises:
        ValueError: For a fused deploy checkpoint (export its unfused form).
    """
    if checkpoint is not None and is_deploy_checkpoint(checkpoint):
        data = torch.load(checkpoint, map_location='cpu', weights_only=True)
        if data['meta'].get('fused'):
            raise ValueError(
                f'{checkpoint} is a fused deploy checkpoint; export the '
                'unfused one (tools/deploy/export.py without --fuse)')
        return load_deploy_model(checkpoint, backend='reference')
    # a distillation config gives its student alone (as the deploy export)
    cfg, model, _ = build_student(config, checkpoint, cfg_options,
                                  init_weights=True)
    model = convert_to_deploy(model.eval(), backend='reference', force=force)
    model.cfg = cfg
    return model


def _find_resize_scale(pipeline: Optional[Sequence[dict]]
                       ) -> Optional[Tuple[int, int]]:
    for step in pipeline or []:
        kind = str(step.get('type', '')).split('.')[-1]
        if kind == 'Resize' and step.get('scale') is not None:
            scale = step['scale']
            if isinstance(scale, int):
                return scale, scale
            return int(scale[1]), int(scale[0])  # mmdet scale is (w, h)
    sizes = [step['size'] for step in pipeline or []
             if str(step.get('type', '')).split('.')[-1] in _SIZED_STEPS]
    if sizes:  # the last sized step of a classification pipeline
        size = sizes[-1]
        return (size, size) if isinstance(size, int) else tuple(size)
    return None


def _pipeline(dataloader: dict) -> Optional[Sequence[dict]]:
    dataset = dataloader.get('dataset', {})
    while isinstance(dataset, dict) and 'pipeline' not in dataset and \
            'dataset' in dataset:  # dataset wrappers
        dataset = dataset['dataset']
    return dataset.get('pipeline') if isinstance(dataset, dict) else None


def default_input_shape(cfg: Config) -> Tuple[int, int]:
    """``(H, W)`` from the ``scale`` of the config's test-time ``Resize``
    (the largest image the test pipeline produces) or, for a classifier, the
    size of its test (else training) crop, else :data:`FALLBACK_SHAPE`."""
    for pipeline in (_pipeline(cfg.get('test_dataloader', {})),
                     cfg.get('test_pipeline'),
                     _pipeline(cfg.get('train_dataloader', {}))):
        shape = _find_resize_scale(pipeline)
        if shape is not None:
            return shape
    return FALLBACK_SHAPE


def static_input_shape(cfg: Config) -> Tuple[int, int]:
    """The static network input for ``cfg``: its test pipeline's largest
    image (the ``Resize`` scale, landscape; see :func:`default_input_shape`)
    padded up to the data preprocessor's ``pad_size_divisor``."""
    height, width = default_input_shape(cfg)
    divisor = cfg.model.get('data_preprocessor', {}).get(
        'pad_size_divisor', 1) or 1
    return (-(-height // divisor) * divisor, -(-width // divisor) * divisor)
