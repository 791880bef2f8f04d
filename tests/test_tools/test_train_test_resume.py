# Copyright (c) mmbnn contributors. All rights reserved.
"""tools/train.py and tools/test.py on a tiny demo run (CPU, ~1 min): train,
evaluate the checkpoint (torch >= 2.6 weights_only loading), dump raw
results, resume."""
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest

from mmbnn.datasets import generate_demo_dataset

from ..conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')


def _tool(name, *args, cwd):
    env = dict(os.environ)
    # the tools themselves must handle torch >= 2.6's weights_only default
    env.pop('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', None)
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', name), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('tools')
    data = root / 'data'
    generate_demo_dataset(str(data), num_trainval=8, num_test=4)
    voc = str(data / 'VOCdevkit') + '/'
    options = [
        f'{k}.dataset.data_root={voc}'
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ] + [
        'train_dataloader.batch_size=4', 'val_dataloader.batch_size=4',
        'test_dataloader.batch_size=4', 'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=3'
    ]
    work = root / 'work'
    log = _tool('train.py', CONFIG, '--work-dir', str(work), '--cfg-options',
                *options, cwd=str(root))
    return dict(root=root, work=work, options=options, log=log)


def test_train_writes_checkpoints_and_evaluates(tiny_run):
    work = tiny_run['work']
    assert (work / 'epoch_1.pth').is_file()
    assert (work / 'epoch_2.pth').is_file()
    assert 'pascal_voc/mAP' in tiny_run['log']


def test_test_tool_loads_checkpoint_and_dumps_results(tiny_run):
    out = tiny_run['root'] / 'results.pkl'
    log = _tool('test.py', CONFIG, str(tiny_run['work'] / 'epoch_2.pth'),
                '--work-dir', str(tiny_run['root'] / 'test'), '--out',
                str(out), '--cfg-options', *tiny_run['options'],
                cwd=str(tiny_run['root']))
    assert 'pascal_voc/mAP' in log
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert len(results) == 4
    assert {'bboxes', 'scores', 'labels'} <= set(results[0]['pred_instances'])


def test_resume_continues_from_checkpoint(tiny_run):
    work = tiny_run['root'] / 'resumed'
    options = [o.replace('max_epochs=2', 'max_epochs=3')
               for o in tiny_run['options']]
    log = _tool('train.py', CONFIG, '--work-dir', str(work), '--resume',
                str(tiny_run['work'] / 'epoch_2.pth'), '--cfg-options',
                *options, cwd=str(tiny_run['root']))
    assert 'resumed epoch: 2, iter: 4' in log
    assert (work / 'epoch_3.pth').is_file()
    assert not (work / 'epoch_1.pth').exists()


def test_bad_out_suffix_is_rejected(tiny_run):
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools/test.py'), CONFIG,
         str(tiny_run['work'] / 'epoch_2.pth'), '--out', 'x.json'],
        cwd=str(tiny_run['root']), capture_output=True, text=True)
    assert proc.returncode != 0
    assert '--out must end with .pkl or .pickle' in proc.stderr
