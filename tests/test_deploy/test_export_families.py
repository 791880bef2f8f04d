# Copyright (c) mmbnn contributors. All rights reserved.
"""Every binary detector family exports: config -> checkpoint -> deploy
checkpoint -> ``load_deploy_model`` -> ``inference_detector`` gives the
detections of the model it came from, bit for bit on the reference
backend, and the packed kernel matches the reference layer by layer.

The checkpoints are randomly initialised (no pretrained weights, no
training) with non-trivial BatchNorm statistics and thresholds: what is
tested is the conversion, which does not depend on how the weights were
learned (the trained path is in ``test_export_tool.py``)."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmbnn.deploy import (PackedBinaryConv, export_deploy_checkpoint,
                          kernel_available, load_deploy_model)
from mmbnn.deploy.loading import build_detector
from mmbnn.ops import BinaryConv

from ..conftest import REPO_ROOT
from .kernel_check import assert_kernel_matches_reference

CONFIGS = [
    'configs/faster_rcnn_r18_ste_voc.py',
    'configs/faster_rcnn_r34_surge_voc.py',
    'configs/faster_rcnn_r18_stompp_surge_voc.py',
    'configs/ssd300_vgg16_ste_voc.py',
    'configs/ssd300_vgg16_stompp_surge_voc.py',
    'configs/demo/faster_rcnn_r18_ste_demo.py',
    'configs/demo/faster_rcnn_r18_ste_demo_coco.py',
    'configs/demo/faster_rcnn_r18_stompp_ste_demo.py',
    'configs/demo/ssd_vgg16_ste_demo.py',
]
# every detection is kept, so the comparison covers many boxes
KEEP_ALL = {
    'faster_rcnn': {'model.test_cfg.rcnn.score_thr': 0.0},
    'ssd': {'model.test_cfg.score_thr': 0.0},
}


def _randomized_checkpoint(cfg: Config, path: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_detector(cfg)  # init_weights is not called: no download
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(
                    torch.rand(m.running_mean.shape, generator=gen) - 0.5)
                m.running_var.copy_(
                    torch.rand(m.running_var.shape, generator=gen) + 0.5)
            if isinstance(m, BinaryConv) and m.threshold is not None:
                m.threshold.copy_(
                    0.4 * torch.rand(m.threshold.shape, generator=gen) - 0.2)
    classes = tuple(f'class{i}' for i in range(_num_classes(cfg)))
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': classes}}}, path)
    model.cfg = cfg
    model.dataset_meta = {'classes': classes}
    return model.eval()


def _num_classes(cfg: Config) -> int:
    head = (cfg.model.get('roi_head', {}).get('bbox_head')
            or cfg.model.bbox_head)
    return head.num_classes


@pytest.mark.parametrize('config', CONFIGS)
def test_family_exports_with_identical_detections(config, tmp_path):
    from mmdet.apis import inference_detector
    path = osp.join(REPO_ROOT, config)
    family = 'ssd' if 'ssd' in osp.basename(config) else 'faster_rcnn'
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(KEEP_ALL[family])
    trained = _randomized_checkpoint(cfg, str(tmp_path / 'model.pth'))
    binary = sum(isinstance(m, BinaryConv) and m.is_binary
                 for m in trained.modules())
    assert binary > 0

    out = str(tmp_path / 'deploy.pth')
    report = export_deploy_checkpoint(path, str(tmp_path / 'model.pth'), out,
                                      cfg_options=KEEP_ALL[family])
    assert report['binary_layers'] == binary
    assert 25 <= report['binary_layers_ratio'] <= 32
    deploy = load_deploy_model(out, backend='reference')
    assert sum(isinstance(m, PackedBinaryConv)
               for m in deploy.modules()) == binary
    assert not any(isinstance(m, BinaryConv) and m.is_binary
                   for m in deploy.modules())

    image = np.random.default_rng(0).integers(
        0, 256, (160, 224, 3), dtype=np.uint8)
    with torch.no_grad():
        expected = inference_detector(trained, image).pred_instances
        got = inference_detector(deploy, image).pred_instances
    assert len(expected) > 0
    assert torch.equal(expected.bboxes, got.bboxes)
    assert torch.equal(expected.scores, got.scores)
    assert torch.equal(expected.labels, got.labels)

    if kernel_available():
        assert_kernel_matches_reference(
            deploy, lambda: inference_detector(deploy, image), binary)
