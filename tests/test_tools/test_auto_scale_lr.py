# Copyright (c) mmbnn contributors. All rights reserved.
"""--auto-scale-lr scales the lr by total batch / the config's reference
batch (mmdet's rule), and every config states its reference batch."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmbnn.apis import build_runner

from ..conftest import REPO_ROOT

# reference total batch of each family (mmdet's: 8 GPUs x 2 / x 8)
REFERENCE_BATCH = {'faster_rcnn': 16, 'ssd300': 64}


@pytest.mark.parametrize('config', sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', '*.py'))))
def test_every_config_states_its_reference_batch(config):
    cfg = Config.fromfile(config)
    family = next(f for f in REFERENCE_BATCH
                  if osp.basename(config).startswith(f))
    assert cfg.auto_scale_lr.base_batch_size == REFERENCE_BATCH[family]
    assert cfg.auto_scale_lr.enable is False  # only on --auto-scale-lr


@pytest.mark.parametrize('flag,batch,expected_ratio',
                         [(True, 4, 0.5), (True, 16, 2.0), (False, 4, 1.0)])
def test_auto_scale_lr_follows_total_batch(flag, batch, expected_ratio,
                                           tmp_path):
    config = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')
    runner = build_runner(
        config, 'train', work_dir=str(tmp_path), auto_scale_lr=flag,
        cfg_options={'train_dataloader.batch_size': batch})
    base_lr = Config.fromfile(config).optim_wrapper.optimizer.lr
    assert runner.auto_scale_lr['base_batch_size'] == 8
    wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(wrapper, runner.auto_scale_lr)  # what Runner.train does
    lrs = [group['lr'] for group in wrapper.optimizer.param_groups]
    assert lrs == pytest.approx([base_lr * expected_ratio] * len(lrs))
