# Copyright (c) mmbnn contributors. All rights reserved.
"""The deploy export and the complexity report of a distillation config
take its student alone: no teacher, no adapters; the deploy model gives
the distillation model's detections."""
import copy

import torch
from mmengine.config import Config

from mmbnn.analysis import config_complexity
from mmbnn.deploy import (PackedBinaryConv, export_deploy_checkpoint,
                          load_deploy_model)
from mmbnn.distill import student_config

from .tiny import batch, build, demo_model, distill_model


def _config(model):
    model = copy.deepcopy(model)
    model.test_cfg.rcnn.score_thr = 0.0  # keep every RoI: many boxes
    return Config(dict(model=model, default_scope='mmdet',
                       custom_hooks=[dict(type='DistillHook')]))


def test_student_config_drops_teacher_adapters_and_hook(mmdet_scope):
    cfg = _config(distill_model())
    plain = student_config(cfg)
    assert plain.model.type == 'FasterRCNN'
    assert not {'teacher_cfg', 'teacher_ckpt', 'distill_cfg',
                'allow_untrained_teacher', 'student_type'} & set(plain.model)
    assert plain.custom_hooks == []
    assert cfg.model.type == 'DistillTwoStageDetector'  # a copy changed
    student = _config(demo_model('faster_rcnn_r18_ste_demo.py'))
    assert student_config(student) is student
    a = config_complexity(cfg, shape=(64, 64))
    b = config_complexity(student, shape=(64, 64))
    assert a.totals() == b.totals()
    assert not any('distill' in layer.name for layer in a.layers)


def test_export_of_a_distillation_checkpoint_is_the_student(
        mmdet_scope, tmp_path):
    cfg = _config(distill_model())
    model = build(cfg.model)
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.02)
    loss, _ = model.parse_losses(model(**batch(model), mode='loss'))
    loss.backward()
    optim.step()
    ckpt = str(tmp_path / 'distill.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)

    out = str(tmp_path / 'deploy.pth')
    report = export_deploy_checkpoint(cfg, ckpt, out)
    assert report['binary_layers'] == 24
    stored = torch.load(out, weights_only=True)
    assert "type='DistillTwoStageDetector'" not in stored['meta']['config']
    assert 'teacher' not in stored['meta']['config']
    assert not any(k.startswith(('distill_losses.', 'teacher'))
                   for k in stored['state_dict'])

    deploy = load_deploy_model(out, backend='reference')
    assert type(deploy).__name__ == 'FasterRCNN'
    assert sum(isinstance(m, PackedBinaryConv)
               for m in deploy.modules()) == 24
    model.eval()
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(2, [[3, 64, 64]] * 2, num_classes=4)
    with torch.no_grad():
        expected = model(
            **model.data_preprocessor(copy.deepcopy(packed), False),
            mode='predict')
        got = deploy(**deploy.data_preprocessor(packed, False),
                     mode='predict')
    assert sum(len(e.pred_instances) for e in expected) > 0
    for e, g in zip(expected, got):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(e.pred_instances[key], g.pred_instances[key])
