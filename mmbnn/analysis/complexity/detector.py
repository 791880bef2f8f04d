# Copyright (c) mmbnn contributors. All rights reserved.
"""Complexity of an mmdet detector or an mmbnn image classifier: the one
forward pass the count runs on a dummy image (through the data
preprocessor, the tensor-mode forward and, for a two-stage detector, a fixed
number of proposals) and the config-to-count entry point (the model and the
default image size come from :mod:`mmbnn.deploy.loading`)."""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from torch import Tensor, nn

from ...deploy.loading import build_student, default_input_shape
from .counting import RunForward, count_complexity
from .results import ModelComplexity


def _dummy_proposals(num: int, height: int, width: int,
                     device: torch.device) -> Tensor:
    """``num`` valid, deterministic ``(x1, y1, x2, y2)`` boxes."""
    gen = torch.Generator().manual_seed(0)
    corner = torch.rand(num, 2, generator=gen) * 0.5
    size = 0.05 + torch.rand(num, 2, generator=gen) * 0.45
    scale = torch.tensor([width, height], dtype=torch.float32)
    boxes = torch.cat([corner * scale, (corner + size) * scale], dim=1)
    return boxes.to(device)


def detector_forward(shape: Sequence[int],
                     num_proposals: Optional[int] = None) -> RunForward:
    """A ``run_forward`` for an mmdet detector on one ``(H, W)`` image.

    The image (deterministic noise in [0, 255]) and a ``DetDataSample``
    carrying its ``img_shape``/``ori_shape``/``scale_factor`` go through the
    model's data preprocessor (normalisation, padding to its size divisor),
    then through the tensor-mode forward, ``model._forward``: backbone,
    neck and heads without post-processing, as mmdet's ``get_flops`` runs
    it. For a two-stage detector with an RPN, the RPN convs run on the
    features and the RoI head on exactly ``num_proposals`` boxes (default:
    the RPN's ``test_cfg.max_per_img``, the test-time maximum; the real
    count after NMS can be lower), so the count does not depend on the
    random weights.

    Args:
        shape (Sequence[int]): ``(H, W)`` of the image before padding.
        num_proposals (int, optional): Proposals for the RoI head.
    """
    height, width = (int(s) for s in shape)

    def run(model: nn.Module):
        from mmdet.models.detectors import TwoStageDetector
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData

        from ...models import ImageClassifier
        gen = torch.Generator().manual_seed(0)
        image = torch.rand(3, height, width, generator=gen) * 255
        if isinstance(model, ImageClassifier):  # backbone, pooling, fc
            inputs = model.data_preprocessor(dict(inputs=[image]),
                                             False)['inputs']
            model(inputs)
            return tuple(inputs.shape), None
        sample = DetDataSample(metainfo=dict(
            img_shape=(height, width), ori_shape=(height, width),
            scale_factor=(1.0, 1.0)))
        data = model.data_preprocessor(
            dict(inputs=[image], data_samples=[sample]), False)
        inputs, samples = data['inputs'], data['data_samples']
        if not (isinstance(model, TwoStageDetector) and model.with_rpn):
            model._forward(inputs, samples)
            return tuple(inputs.shape), None
        count = num_proposals
        if count is None:
            test_cfg = model.rpn_head.test_cfg or {}
            if 'max_per_img' not in test_cfg:
                raise ValueError(
                    'num_proposals is needed: the RPN has no '
                    'test_cfg.max_per_img')
            count = int(test_cfg['max_per_img'])
        feats = model.extract_feat(inputs)
        model.rpn_head(feats)
        proposals = InstanceData(bboxes=_dummy_proposals(
            count, height, width, inputs.device))
        model.roi_head.forward(feats, [proposals], samples)
        return tuple(inputs.shape), count

    return run


def build_model_from_config(config: str,
                            cfg_options: Optional[dict] = None
                            ) -> Tuple[Config, nn.Module]:
    """Load ``config`` (as ``tools/train.py`` does) and build its model.

    Returns:
        tuple: ``(cfg, model)``; the model keeps its initial weights
        (counts do not depend on them). Of a distillation config, the
        student's config and model.
    """
    # a distillation config counts its student alone (what is deployed)
    cfg, model, _ = build_student(config, cfg_options=cfg_options)
    return cfg, model


def config_complexity(config: str,
                      shape: Optional[Sequence[int]] = None,
                      cfg_options: Optional[dict] = None,
                      num_proposals: Optional[int] = None
                      ) -> ModelComplexity:
    """Complexity of the detector a config builds.

    Args:
        config (str): Config path.
        shape (Sequence[int], optional): ``(H, W)`` of the dummy image;
            default :func:`default_input_shape`.
        cfg_options (dict, optional): Overrides, as ``--cfg-options``.
        num_proposals (int, optional): See :func:`detector_forward`.
    """
    cfg, model = build_model_from_config(config, cfg_options)
    if shape is None:
        shape = default_input_shape(cfg)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'shape must be (H, W) with H, W >= 1, got {shape}')
    if num_proposals is not None and num_proposals < 1:
        raise ValueError(
            f'num_proposals must be >= 1, got num_proposals={num_proposals}')
    return count_complexity(model, detector_forward(shape, num_proposals))
