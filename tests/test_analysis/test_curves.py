# Copyright (c) mmbnn contributors. All rights reserved.
"""Training-curve plots: merging resumed runs, and the PNGs rendered from
short real runs (the demo tool with SURGE; a toy run with StoMPP)."""
import json
import os.path as osp
import runpy
import sys

import pytest
from mmengine.runner import Runner

from mmbnn.analysis import load_scalar_log, plot_curves
from mmbnn.analysis.curves import collect_series

from ..conftest import REPO_ROOT
from ..toy import toy_runner_cfg

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
LOSSES = ['loss', 'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox']
BINARY_LAYERS = [
    f'backbone.layer{stage}.{block}.conv{conv}' for stage in range(1, 5)
    for block in range(2) for conv in (1, 2)
] + [f'neck.lateral_convs.{i}.conv' for i in range(4)
     ] + [f'neck.fpn_convs.{i}.conv' for i in range(4)]


def _check_png(path):
    from matplotlib.image import imread
    with open(path, 'rb') as f:
        assert f.read(8) == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] >= 300 and image.shape[1] >= 600
    assert image[..., :3].std() > 0.01  # something was drawn


def _write_run(work_dir, timestamp, records):
    vis = work_dir / timestamp / 'vis_data'
    vis.mkdir(parents=True)
    (vis / 'scalars.json').write_text(''.join(
        json.dumps(r) + '\n' for r in records))


def test_resumed_run_continues_the_curves(tmp_path):
    # run 1: epochs of 10 iterations, killed during epoch 3; run 2 resumed
    # from the epoch-2 checkpoint (iteration 20) and re-logs iteration 30
    _write_run(tmp_path, '20260101_000000', [
        dict(loss=3.0, epoch=1, iter=10, step=10, grad_norm=7.0),
        {'pascal_voc/mAP': 0.1, 'step': 1},
        {'surge/conv1/lambda': 0.5, 'surge/conv1/grad_norm_binary': 2.0,
         'surge/conv1/grad_norm_aux': 4.0, 'step': 20},
        dict(loss=2.0, epoch=2, iter=20, step=20),
        {'pascal_voc/mAP': 0.2, 'step': 2},
        dict(loss=9.0, epoch=3, iter=30, step=30),
        {'pascal_voc/mAP': 0.9, 'step': 3},
    ])
    _write_run(tmp_path, '20260101_010000', [
        dict(loss=1.5, epoch=3, iter=30, step=30),
        {'pascal_voc/mAP': 0.3, 'step': 3},
        {'surge/conv1/lambda': 0.4, 'step': 40},
        dict(loss=1.0, epoch=4, iter=40, step=40, grad_norm=5.0,
             grad_norm_training_only=9.0),
        {'accuracy/top1': 55.0, 'accuracy/top5': 80.0, 'step': 4},
    ])
    (tmp_path / '20260101_020000').mkdir()  # a tools/test.py run: no log
    series = collect_series(load_scalar_log(str(tmp_path)))
    assert series['losses']['loss'] == ([10, 20, 30, 40],
                                        [3.0, 2.0, 1.5, 1.0])
    assert series['map']['pascal_voc/mAP'] == ([1, 2, 3], [0.1, 0.2, 0.3])
    assert series['surge_lambda']['conv1'] == ([20, 40], [0.5, 0.4])
    assert series['surge_grad_binary']['conv1'] == ([20], [2.0])
    assert series['surge_grad_aux']['conv1'] == ([20], [4.0])
    assert series['grad_norm'] == {
        'grad_norm': ([10, 40], [7.0, 5.0]),
        'grad_norm_training_only': ([40], [9.0])
    }
    assert series['accuracy'] == {'accuracy/top1': ([4], [55.0])}
    assert series['stompp_frozen'] == {}


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='is not a directory'):
        plot_curves(str(tmp_path / 'missing'))
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        plot_curves(str(tmp_path))


def test_demo_ends_with_plots(tmp_path, demo_data_root, monkeypatch, capsys):
    """``tools/demo.py`` on the SURGE demo config, 2 epochs of 8 images."""
    work = tmp_path / 'work'
    monkeypatch.setattr(sys, 'argv', [
        'demo.py', '--config',
        osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_surge_demo.py'),
        '--work-dir', str(work), '--data-root', demo_data_root,
        '--cfg-options', 'train_dataloader.dataset.indices=8',
        'val_dataloader.dataset.indices=4',
        'test_dataloader.dataset.indices=4',
        'train_dataloader.batch_size=4', 'val_dataloader.batch_size=4',
        'test_dataloader.batch_size=4', 'train_cfg.max_epochs=2',
        'param_scheduler.1.end=2', 'default_hooks.logger.interval=1',
        'custom_hooks.0.interval=1'
    ])
    runpy.run_path(osp.join(REPO_ROOT, 'tools/demo.py'), run_name='__main__')
    printed = capsys.readouterr().out
    plots = plot_curves(str(work))
    assert list(plots) == [
        'losses', 'map', 'grad_norm', 'surge_lambda', 'surge_grad_binary',
        'surge_grad_aux'
    ]
    for name, plot in plots.items():
        assert osp.dirname(plot.path) == str(work / 'plots')
        assert f'plot        : {plot.path} ({name})' in printed
        _check_png(plot.path)
    assert plots['losses'].series == LOSSES
    assert plots['map'].series == ['pascal_voc/mAP']
    assert plots['grad_norm'].series == [
        'grad_norm', 'grad_norm_training_only'
    ]
    for name in ('surge_lambda', 'surge_grad_binary', 'surge_grad_aux'):
        assert sorted(plots[name].series) == sorted(BINARY_LAYERS)
    lambdas = collect_series(load_scalar_log(str(work)))['surge_lambda']
    assert lambdas['backbone.layer1.0.conv1'][0] == [1, 2, 3, 4]


def test_stompp_frozen_plot_from_toy_run(tmp_path, mmdet_scope):
    conv = dict(type='BinaryConv',
                progressive=dict(type='StoMPP', refresh_rate=10))
    hooks = [dict(type='StoMPPHook', interval=1, shape='linear',
                  input_shape=(1, 3, 12, 12))]
    Runner.from_cfg(toy_runner_cfg(tmp_path, hooks, conv,
                                   max_iters=8)).train()
    plots = plot_curves(str(tmp_path), str(tmp_path / 'out'))
    assert list(plots) == ['losses', 'stompp_frozen']
    assert plots['losses'].series == ['loss']
    assert plots['stompp_frozen'].series == ['conv1', 'conv2']  # forward
    for plot in plots.values():
        _check_png(plot.path)
    frozen = collect_series(load_scalar_log(str(tmp_path)))['stompp_frozen']
    steps, values = frozen['conv1']
    assert steps == list(range(1, 9))
    assert values[0] < 1.0 and values[-1] == 1.0  # binarized progressively
