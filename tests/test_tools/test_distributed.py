# Copyright (c) mmbnn contributors. All rights reserved.
"""2-process distributed training on CPU (gloo) through the user's path,
``tools/dist_train.sh`` -> torchrun -> ``tools/train.py --launcher
pytorch``, for the STE, SURGE and StoMPP demo configs (~15-25 s each).

Every rank fingerprints its model before the first and after the last
iteration (``rank_state_dump.RankStateDumpHook``); the ranks must end with
bit-identical weights (and StoMPP weight masks), which must differ from the
initial ones. The Slurm scripts are checked with a stand-in ``srun``.
"""
import json
import os
import os.path as osp
import socket
import stat
import subprocess
import sys

import mmengine
import pytest
import torch
from mmengine.config import Config

from mmbnn.datasets import generate_demo_dataset
from mmbnn.engine.cpu_distributed import setup_cpu_distributed

from ..conftest import REPO_ROOT
from .rank_state_dump import fingerprint

WORLD_SIZE = 2
CONFIGS = {
    'ste': 'configs/demo/faster_rcnn_r18_ste_demo.py',
    'surge': 'configs/demo/faster_rcnn_r18_surge_demo.py',
    'stompp': 'configs/demo/faster_rcnn_r18_stompp_demo.py',
}
# 8 train images, 2 ranks, 1 image per rank and step: 4 iterations.
# StoMPP: the schedule ends at iteration 5 of 4, so at the last step
# (iteration 3) the first layers are binary, one is partly frozen and the
# last ones are still continuous (from iteration 0: the 4 iterations end
# inside the demo's warm-up).
EXTRA_OPTIONS = {
    'stompp': [
        'custom_hooks.0.by_epoch=False', 'custom_hooks.0.end=5',
        'custom_hooks.0.after_warmup=False'
    ],
}
NUM_ITERS = 4
# Buffers each rank updates from its own batch: BatchNorm statistics (no
# SyncBN), and SURGE's AGS statistics, computed from the local gradients
# before DDP averages them. Everything else must match across ranks.
RANK_LOCAL_BUFFERS = ('running_mean', 'running_var', 'last_lambda',
                      'grad_norm_binary', 'grad_norm_aux')

CHILD_CONFIG = """_base_ = [{base!r}]
custom_imports = dict(
    imports=['mmbnn', 'tests.test_tools.rank_state_dump'],
    allow_failed_imports=False)
default_hooks = dict(
    rank_state_dump=dict(type='RankStateDumpHook', out_dir={out!r}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('dist_data')
    generate_demo_dataset(str(root), num_trainval=8, num_test=4)
    return str(root / 'VOCdevkit') + '/'


def run_dist_script(script, *args, cwd):
    """Run ``tools/<script>`` on CPU (GPUs hidden, 1 thread per process) on
    a free port; return its output."""
    env = dict(
        os.environ,
        CUDA_VISIBLE_DEVICES='',
        PYTHON=sys.executable,
        PORT=str(free_port()),
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', script), *args],
        cwd=str(cwd), env=env, capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    return log


def dist_train(name, data_root, tmp_path):
    """Run ``tools/dist_train.sh`` with 2 CPU processes; return the log and
    the per-rank state dumps."""
    dump_dir = tmp_path / 'rank_states'
    config = tmp_path / f'{name}_dist.py'
    config.write_text(
        CHILD_CONFIG.format(
            base=osp.join(REPO_ROOT, CONFIGS[name]), out=str(dump_dir)))
    options = [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader')
    ] + [
        'train_dataloader.batch_size=1', 'val_dataloader.batch_size=2',
        'train_cfg.max_epochs=1'
    ] + EXTRA_OPTIONS.get(name, [])
    log = run_dist_script('dist_train.sh', str(config), str(WORLD_SIZE),
                          '--work-dir', str(tmp_path / 'work'),
                          '--cfg-options', *options, cwd=tmp_path)
    states = []
    for rank in range(WORLD_SIZE):
        with open(dump_dir / f'rank{rank}.json') as f:
            states.append(json.load(f))
    return log, states


def mismatches(a: dict, b: dict) -> list:
    assert a.keys() == b.keys()
    return sorted(k for k in a if a[k] != b[k])


@pytest.fixture(scope='module', params=sorted(CONFIGS))
def dist_run(request, demo_data, tmp_path_factory):
    """One 2-process training per config, shared by the tests below."""
    tmp_path = tmp_path_factory.mktemp(f'dist_{request.param}')
    log, states = dist_train(request.param, demo_data, tmp_path)
    return dict(name=request.param, log=log, states=states, tmp=tmp_path)


@pytest.mark.e2e
def test_two_process_cpu_training_keeps_ranks_identical(dist_run):
    name, log, tmp_path = dist_run['name'], dist_run['log'], dist_run['tmp']
    rank0, rank1 = dist_run['states']

    # both ranks ran the whole epoch, with gloo, and evaluated together
    assert 'backend nccl -> gloo' in log
    assert f'Epoch(train) [1][{NUM_ITERS}/{NUM_ITERS}]' in log
    assert 'pascal_voc/mAP' in log
    assert rank0['world_size'] == rank1['world_size'] == WORLD_SIZE

    # DDP starts the ranks from rank 0's weights and keeps them identical
    assert mismatches(rank0['init']['params'], rank1['init']['params']) == []
    assert mismatches(rank0['final']['params'],
                      rank1['final']['params']) == []
    # ... and training moved them, so the identity is not vacuous
    changed = mismatches(rank0['init']['params'], rank0['final']['params'])
    num_params = len(rank0['final']['params'])
    assert len(changed) >= 0.9 * num_params, (len(changed), num_params)

    differing = mismatches(rank0['final']['buffers'],
                           rank1['final']['buffers'])
    assert all(n.endswith(RANK_LOCAL_BUFFERS) for n in differing), differing

    # rank 0's checkpoint holds exactly the weights both ranks ended with
    ckpt = torch.load(
        tmp_path / 'work' / 'epoch_1.pth', map_location='cpu',
        weights_only=False)['state_dict']
    assert {n: fingerprint(ckpt[n])
            for n in rank0['final']['params']} == rank0['final']['params']

    if name == 'stompp':
        masks0, masks1 = rank0['final']['masks'], rank1['final']['masks']
        assert len(masks0) > 0
        assert mismatches(masks0, masks1) == []
        scores = [n for n in rank0['final']['buffers']
                  if n.endswith('progressive.scores')]
        assert len(scores) == len(masks0)
        assert not set(scores) & set(differing)
        # the soft refresh redrew scores every iteration, identically
        assert set(scores) <= set(
            mismatches(rank0['init']['buffers'], rank0['final']['buffers']))
        frozen = rank0['final']['frozen'].values()
        assert any(f == 1.0 for f in frozen)
        assert any(0.0 < f < 1.0 for f in frozen), sorted(frozen)
        assert any(f == 0.0 for f in frozen)


@pytest.mark.e2e
@pytest.mark.parametrize('dist_run', ['ste'], indirect=True)
def test_dist_test_script_evaluates_with_two_processes(dist_run, demo_data):
    tmp_path = dist_run['tmp']
    out = tmp_path / 'dist_results.pkl'
    log = run_dist_script(
        'dist_test.sh', osp.join(REPO_ROOT, CONFIGS['ste']),
        str(tmp_path / 'work' / 'epoch_1.pth'), str(WORLD_SIZE), '--work-dir',
        str(tmp_path / 'test'), '--out', str(out), '--cfg-options',
        f'test_dataloader.dataset.data_root={demo_data}',
        'test_dataloader.batch_size=1', cwd=tmp_path)
    assert 'backend nccl -> gloo' in log
    assert 'pascal_voc/mAP' in log
    # rank 0 gathered both ranks' predictions, in dataset order, once each
    results = mmengine.load(str(out))
    with open(osp.join(demo_data, 'VOC2007/ImageSets/Main/test.txt')) as f:
        test_ids = f.read().split()
    assert [osp.basename(r['img_path'])[:-4] for r in results] == test_ids
    assert all('pred_instances' in r for r in results)


def test_cpu_setup_switches_to_gloo_and_drops_device_ids(monkeypatch):
    calls = []
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    monkeypatch.setattr('torch.distributed.is_initialized', lambda: False)
    monkeypatch.setattr('torch.distributed.init_process_group',
                        lambda **kwargs: calls.append(kwargs))
    cfg = Config(
        dict(
            launcher='pytorch',
            env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    setup_cpu_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert len(calls) == 1 and calls[0]['backend'] == 'gloo'
    assert calls[0]['timeout'].total_seconds() == 60


@pytest.mark.parametrize('cfg, message', [
    (dict(launcher='slurm'), '--launcher slurm needs CUDA'),
    (dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='hccl'))),
     "env_cfg.dist_cfg.backend='hccl' cannot run on CPU"),
])
def test_cpu_setup_rejects_what_cannot_run_on_cpu(cfg, message,
                                                  monkeypatch):
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    with pytest.raises(ValueError, match=message):
        setup_cpu_distributed(Config(cfg))


def test_cpu_setup_leaves_single_process_runs_alone(monkeypatch):
    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    cfg = Config(dict(launcher='none'))
    setup_cpu_distributed(cfg)
    assert 'model_wrapper_cfg' not in cfg and 'env_cfg' not in cfg


@pytest.mark.parametrize('script, positional, tool', [
    ('slurm_train.sh', ['gpu', 'job', 'cfg.py', 'work'], 'train.py'),
    ('slurm_test.sh', ['gpu', 'job', 'cfg.py', 'ckpt.pth'], 'test.py'),
])
def test_slurm_scripts_pass_arguments_to_srun(script, positional, tool,
                                              tmp_path):
    # a stand-in srun that records its arguments, one per line
    fake = tmp_path / 'bin' / 'srun'
    fake.parent.mkdir()
    fake.write_text('#!/usr/bin/env bash\n'
                    'printf "%s\\n" "$@" > "$SRUN_RECORD"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / 'argv.txt'
    env = dict(
        os.environ,
        PATH=f'{fake.parent}:{os.environ["PATH"]}',
        SRUN_RECORD=str(record),
        GPUS='16',
        GPUS_PER_NODE='8',
        CPUS_PER_TASK='3',
        SRUN_ARGS='--qos=high --time=10')
    env.pop('PYTHON', None)
    extra = ['--cfg-options', 'model.test_cfg.rcnn.score_thr=0.5',
             'a=dict(b=1, c=2)']
    proc = subprocess.run(
        ['bash', osp.join(REPO_ROOT, 'tools', script), *positional, *extra],
        env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    argv = record.read_text().splitlines()
    assert argv[:2] == ['-p', 'gpu']
    for flag in ('--job-name=job', '--gres=gpu:8', '--ntasks=16',
                 '--ntasks-per-node=8', '--cpus-per-task=3',
                 '--kill-on-bad-exit=1', '--qos=high', '--time=10'):
        assert flag in argv
    start = argv.index(osp.join(REPO_ROOT, 'tools', tool))
    assert argv[start - 2:start] == ['python', '-u']
    tail = argv[start + 1:]
    assert tail[0] == 'cfg.py'
    assert '--launcher=slurm' in tail
    # extra arguments arrive intact, spaces included
    assert tail[-3:] == extra
    if tool == 'train.py':
        assert '--work-dir=work' in tail
    else:
        assert tail[1] == 'ckpt.pth'
