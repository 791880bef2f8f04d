# Copyright (c) mmbnn contributors. All rights reserved.
"""tools/train.py and tools/test.py on a tiny GlyphCls run with StoMPP +
SURGE: the checkpoint evaluates to the logged accuracy, and a run resumed
from its epoch-1 checkpoint ends with the uninterrupted run's weights,
StoMPP masks and SURGE state, bit for bit."""
import os.path as osp

import pytest
import torch

from mmbnn.apis.launch import build_runner
from mmbnn.datasets import generate_glyph_cls

from ..conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/cls/glyph_cls/'
                  'resnet18_stompp_surge_glyph_cls.py')


def _options(data):
    return {
        'train_dataloader.dataset.data_root': data,
        'val_dataloader.dataset.data_root': data,
        'test_dataloader.dataset.data_root': data,
        'train_dataloader.batch_size': 8,
        'train_cfg.max_epochs': 3,
        'stompp_end': 2,
        'custom_hooks.0.end': 2,
        'default_hooks.checkpoint.max_keep_ckpts': 3,
        'randomness.seed': 5,
    }


def _train(work, options, resume=None):
    runner = build_runner(CONFIG, 'train', work_dir=str(work),
                          resume=resume, cfg_options=dict(options))
    runner.train()
    return runner


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('cls')
    data = str(root / 'data')
    generate_glyph_cls(data, num_train=48, num_test=16)
    options = _options(data)
    full = _train(root / 'full', options)
    resumed = _train(root / 'resumed', options,
                     resume=str(root / 'full' / 'epoch_1.pth'))
    return dict(root=root, options=options, full=full, resumed=resumed)


def test_resume_reproduces_the_run(runs):
    a = runs['full'].model.state_dict()
    b = runs['resumed'].model.state_dict()
    assert set(a) == set(b)
    stompp = [k for k in a if k.endswith('.progressive.scores')]
    surge = [k for k in a if '.compensator.' in k]
    assert len(stompp) == 16 and surge
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the schedule finished: the checkpoint is a binary network
    assert all(float(v) == 1.0 for k, v in a.items()
               if k.endswith(('p_weight', 'p_act')))


def test_test_tool_reports_the_accuracy(runs):
    metrics = build_runner(
        CONFIG, 'test',
        checkpoint=str(runs['root'] / 'full' / 'epoch_3.pth'),
        work_dir=str(runs['root'] / 'test'),
        cfg_options=dict(runs['options'])).test()
    assert 0 <= metrics['accuracy/top1'] <= metrics['accuracy/top5'] <= 100
    logged = runs['full'].message_hub.get_scalar('val/accuracy/top1')
    assert metrics['accuracy/top1'] == pytest.approx(logged.current())
