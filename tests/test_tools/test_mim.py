# Copyright (c) mmbnn contributors. All rights reserved.
"""``mim`` (OpenMMLab's openmim) on the installed mmbnn: ``mim search``
lists the model index, ``mim train`` and ``mim test`` run the tools that
``mmbnn/.mim`` carries, on a tiny demo dataset (CPU, about a minute)."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import yaml

from mmbnn.datasets import generate_demo_dataset

from ..conftest import REPO_ROOT

CONFIG = 'configs/demo/faster_rcnn_r18_ste_demo.py'


def mim(*args, cwd):
    """Run ``python -m mim ARGS`` on CPU; return its output, or fail with
    it."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='2')
    proc = subprocess.run([sys.executable, '-m', 'mim', *args], cwd=cwd,
                          env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


def metafile_models():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    models = []
    for metafile in metafiles:
        with open(osp.join(REPO_ROOT, metafile)) as f:
            models += yaml.safe_load(f)['Models']
    return models


def test_the_package_carries_tools_configs_and_model_index():
    from mim.utils import get_installed_path
    mim_dir = osp.join(get_installed_path('mmbnn'), '.mim')
    for name in ('tools/train.py', 'tools/test.py', CONFIG,
                 'model-index.yml'):
        assert osp.samefile(osp.join(mim_dir, name),
                            osp.join(REPO_ROOT, name)), name


def test_search_lists_every_model_of_the_index(tmp_path):
    # wide enough for the longest value (80 columns cut them)
    out = mim('search', 'mmbnn', '--display-width', '200',
              cwd=str(tmp_path))
    listed = dict(
        re.findall(r'^config id: (\S+)\n(?:.*\n)*?config\s+(\S+)$', out,
                   re.MULTILINE))
    models = metafile_models()
    assert len(models) > 30
    assert listed == {m['Name'].lower(): m['Config'] for m in models}
    assert 'demo_faster_rcnn_r18_ste' in listed


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('mim_data'))
    generate_demo_dataset(root, num_trainval=4, num_test=2, image_size=96,
                          min_obj=16, max_obj=40)
    return osp.join(root, 'VOCdevkit') + '/'


def cfg_options(data_root):
    options = [
        f'{k}.dataset.data_root={data_root}'
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]
    return options + [
        'train_dataloader.batch_size=2', 'test_dataloader.batch_size=2',
        'train_cfg.max_epochs=1'
    ]


def test_train_then_test(data_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    # from outside the repository, by config name: mim finds the config in
    # the package's configs and runs the package's tools/train.py
    out = mim('train', 'mmbnn', osp.basename(CONFIG), '--gpus', '0',
              '--work-dir', work_dir, '--cfg-options',
              *cfg_options(data_root), cwd=str(tmp_path))
    assert osp.realpath(osp.join(REPO_ROOT, CONFIG)) in out
    assert 'Training finished successfully' in out
    (checkpoint, ) = glob.glob(osp.join(work_dir, 'epoch_*.pth'))
    assert osp.basename(checkpoint) == 'epoch_1.pth'

    out = mim('test', 'mmbnn', CONFIG, '--checkpoint', checkpoint,
              '--gpus', '0', '--work-dir', str(tmp_path / 'test'),
              '--cfg-options', *cfg_options(data_root), cwd=REPO_ROOT)
    assert f'Load checkpoint from {checkpoint}' in out
    values = re.findall(r'pascal_voc/mAP: ([0-9.]+)', out)
    assert values, out
    assert 0 <= float(values[-1]) <= 1
