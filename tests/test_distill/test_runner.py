# Copyright (c) mmbnn contributors. All rights reserved.
"""A short MMEngine Runner training of a tiny distillation detector:
DistillHook's warm-up reaches the losses and the logs, the checkpoint and
the optimizer hold no teacher, and resuming reproduces the uninterrupted
run bit for bit."""
import copy
import glob
import json
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS
from mmengine.runner import Runner

from mmbnn.distill import DistillHook

from ..toy import GeneratedDataset
from .tiny import IMAGE, distill_model, save_teacher

ITERS = 3


@DATASETS.register_module(force=True)
class TinyDetDataset(GeneratedDataset):
    """``length`` fixed 64x64 images with boxes (mmdet's demo inputs)."""

    def __init__(self, length: int = 4, **kwargs) -> None:
        from mmdet.testing import demo_mm_inputs
        self.items = demo_mm_inputs(length, [IMAGE] * length, num_classes=4)
        super().__init__(length, **kwargs)

    def __getitem__(self, idx):
        return copy.deepcopy(
            dict(inputs=self.items['inputs'][idx],
                 data_samples=self.items['data_samples'][idx]))


def _runner(work_dir, teacher_ckpt, max_iters=ITERS, resume=None):
    model = distill_model(teacher_ckpt)
    # the teacher's config as a file, as the configs name it (and a short
    # config text for the Runner to dump)
    teacher_cfg = osp.join(osp.dirname(teacher_ckpt), 'teacher_cfg.py')
    if not osp.exists(teacher_cfg):
        Config(model.teacher_cfg).dump(teacher_cfg)
    model.teacher_cfg = teacher_cfg
    cfg = dict(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'distill_{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=dict(type='TinyDetDataset', length=4),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'),
            batch_size=2, num_workers=0),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.02, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        custom_hooks=[
            dict(type='DistillHook', schedule='linear_warmup', end=ITERS,
                 losses=['feat', 'cwd'], interval=1)
        ],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='mmdet')
    if resume:
        cfg.update(load_from=str(resume), resume=True)
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('distill_runner')
    teacher_ckpt = save_teacher(root / 'teacher.pth')
    full = _runner(root / 'full', teacher_ckpt)
    full.train()
    resumed = _runner(root / 'resumed', teacher_ckpt,
                      resume=root / 'full' / 'iter_1.pth')
    resumed.train()
    return dict(root=root, full=full, resumed=resumed)


def test_warmup_scales_losses_and_is_logged(runs):
    hub = runs['full'].message_hub
    expected = [0.0, 1 / 3, 2 / 3]
    for name in ('feat', 'cwd'):
        weights, _ = hub.get_scalar(f'train/kd_weight_{name}').data
        assert list(weights) == pytest.approx(expected)
    # the unscheduled logit loss keeps its weight, and is logged too
    logit, _ = hub.get_scalar('train/kd_weight_logit').data
    assert list(logit) == pytest.approx([1.0] * ITERS)
    feat_loss, _ = hub.get_scalar('train/loss_kd_feat').data
    assert feat_loss[0] == 0.0 and all(v > 0 for v in feat_loss[1:])
    scalars = glob.glob(
        osp.join(str(runs['root']), 'full', '*', 'vis_data', 'scalars.json'))
    with open(scalars[0]) as f:
        logged = [json.loads(line) for line in f]
    assert [r['kd_weight_cwd'] for r in logged] == pytest.approx(expected)


def test_checkpoint_and_optimizer_hold_no_teacher(runs):
    ckpt = torch.load(
        osp.join(str(runs['root']), 'full', f'iter_{ITERS}.pth'),
        map_location='cpu', weights_only=False)
    state = ckpt['state_dict']
    assert not any('teacher' in key for key in state)
    assert any(key.startswith('distill_losses.feat.adapters.')
               for key in state)
    model = runs['full'].model
    num_params = len(list(model.parameters()))
    (group, ) = ckpt['optimizer']['param_groups']
    assert len(group['params']) == num_params
    assert not model.teacher.training


def test_resume_reproduces_the_uninterrupted_run(runs):
    full = runs['full'].model.state_dict()
    resumed = runs['resumed'].model.state_dict()
    assert full.keys() == resumed.keys()
    for key, value in full.items():
        assert torch.equal(value, resumed[key]), key
    for tag in ('train/loss_kd_feat', 'train/loss_kd_logit', 'train/loss'):
        a, _ = runs['full'].message_hub.get_scalar(tag).data
        b, _ = runs['resumed'].message_hub.get_scalar(tag).data
        assert list(b) == list(a[-len(b):]), tag


def test_hook_without_distillation_model_is_an_error():
    from types import SimpleNamespace

    from torch import nn
    runner = SimpleNamespace(model=nn.Linear(1, 1), train_dataloader=[0],
                             max_iters=1)
    with pytest.raises(RuntimeError, match='no distillation loss'):
        DistillHook().before_train(runner)
    with pytest.raises(ValueError, match="schedule='step'"):
        DistillHook(schedule='step')
