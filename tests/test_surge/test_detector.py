# Copyright (c) mmbnn contributors. All rights reserved.
"""SURGE inside the demo Faster R-CNN: every binary conv is compensated, and
dropping the branches changes no prediction."""
import os.path as osp

import torch
from mmengine.config import Config

from mmbnn.ops import BinaryConv
from mmbnn.surge import SURGECompensator, strip_compensators

from ..conftest import REPO_ROOT


def _build(name):
    from mmdet.registry import MODELS
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/demo', name))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def test_surge_detector_predictions_survive_dropping_the_branches(
        mmdet_scope):
    from mmdet.testing import demo_mm_inputs
    model = _build('faster_rcnn_r18_surge_demo.py')
    binary = [m for m in model.modules()
              if isinstance(m, BinaryConv) and m.is_binary]
    assert len(binary) == 24
    assert all(isinstance(m.compensator, SURGECompensator) for m in binary)

    packed = demo_mm_inputs(2, [[3, 128, 128]] * 2, num_classes=4)
    # one training step so that W_a, BN statistics and lambda move
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    loss, _ = model.parse_losses(
        model(**model.data_preprocessor(packed, True), mode='loss'))
    loss.backward()
    optim.step()
    assert all(float(m.compensator.last_lambda) > 0 for m in binary)

    def predict(m):
        m.eval()
        with torch.no_grad():
            out = m(**m.data_preprocessor(packed, False), mode='predict')
        return [o.pred_instances for o in out]

    before = predict(model)
    state = {k: v for k, v in model.state_dict().items()
             if '.compensator.' not in k}
    assert strip_compensators(model) == 24
    after = predict(model)
    plain = _build('faster_rcnn_r18_ste_demo.py')
    plain.load_state_dict(state, strict=True)
    exported = predict(plain)
    for a, b, c in zip(before, after, exported):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(a[key], b[key]) and torch.equal(a[key], c[key])
