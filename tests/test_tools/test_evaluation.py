# Copyright (c) mmbnn contributors. All rights reserved.
"""Evaluation through tools/test.py (~30 s on CPU): COCO bbox metrics on the
demo dataset's COCO JSON (configs/_base_/datasets/demo_coco.py), VOC mAP in
both of mmdet's eval modes, ``--out`` results usable for offline
evaluation, and the test loop's progress lines.

One checkpoint (2 training iterations of the STE demo config) is shared by
the module. It barely detects anything, so the tool runs check the wiring
and value ranges; the config-level test feeds the ground truth as
predictions to check the values themselves.
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import mmengine
import pytest
import torch
from mmengine.config import Config

from mmbnn.datasets import DEMO_CLASSES, generate_demo_dataset

from ..conftest import REPO_ROOT

VOC_CONFIG = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')
COCO_CONFIG = osp.join(REPO_ROOT,
                       'configs/demo/faster_rcnn_r18_ste_demo_coco.py')
COCO_KEYS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s',
             'bbox_mAP_m', 'bbox_mAP_l')
# COCO's area ranges (px^2) of the size-specific APs
AREA_RANGES = {
    'bbox_mAP_s': (0, 32**2),
    'bbox_mAP_m': (32**2, 96**2),
    'bbox_mAP_l': (96**2, float('inf')),
}
NUM_TEST = 4


def run_tool(name, *args, cwd):
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', name), *args],
        cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def logged_metrics(work_dir) -> dict:
    """The metrics tools/test.py wrote to ``<work_dir>/<time>/<time>.json``."""
    (path, ) = glob.glob(osp.join(work_dir, '*', '*.json'))
    with open(path) as f:
        return json.load(f)


def coco_test_json(root) -> dict:
    with open(osp.join(root, 'annotations/instances_test.json')) as f:
        return json.load(f)


def expected_range(key: str, coco: dict) -> tuple:
    """COCO reports -1 for an area range without ground truth."""
    if key not in AREA_RANGES:
        return 0.0, 1.0
    low, high = AREA_RANGES[key]
    if any(low <= a['area'] < high for a in coco['annotations']):
        return 0.0, 1.0
    return -1.0, -1.0


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp('eval')
    data = root / 'data'
    generate_demo_dataset(str(data), num_trainval=8, num_test=NUM_TEST)
    voc = str(data / 'VOCdevkit') + '/'
    work = root / 'train'
    run_tool(
        'train.py', VOC_CONFIG, '--work-dir', str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={voc}',
        f'val_dataloader.dataset.data_root={voc}',
        'train_dataloader.batch_size=4', 'train_cfg.max_epochs=1',
        'train_cfg.val_begin=2', cwd=str(root))
    return dict(root=root, data=str(data), ckpt=str(work / 'epoch_1.pth'))


def test_coco_metric_out_and_progress_through_test_tool(checkpoint):
    root, data = checkpoint['root'], checkpoint['data']
    ann_file = osp.join(data, 'annotations/instances_test.json')
    out = str(root / 'coco_results.pkl')
    log = run_tool(
        'test.py', COCO_CONFIG, checkpoint['ckpt'], '--work-dir',
        str(root / 'test_coco'), '--out', out, '--cfg-options',
        f'test_dataloader.dataset.data_root={data}/',
        f'test_evaluator.ann_file={ann_file}', 'test_dataloader.batch_size=1',
        'default_hooks.logger.interval=1', cwd=str(root))

    # progress: one line per test batch with its ETA
    for i in range(1, NUM_TEST + 1):
        assert f'Epoch(test) [{i}/{NUM_TEST}]    eta:' in log

    coco = coco_test_json(data)
    metrics = logged_metrics(root / 'test_coco')
    assert {k for k in metrics if k.startswith('coco/')} == {
        f'coco/{k}' for k in COCO_KEYS
    }
    for key in COCO_KEYS:
        low, high = expected_range(key, coco)
        assert low <= metrics[f'coco/{key}'] <= high, (key, metrics)
    # the demo objects (20-52 px) leave COCO's "large" range empty
    assert metrics['coco/bbox_mAP_l'] == -1.0

    # --out: one raw prediction per test image of the JSON ...
    results = mmengine.load(out)
    assert sorted(r['img_id'] for r in results) == sorted(
        img['id'] for img in coco['images'])
    for result in results:
        pred = result['pred_instances']
        assert pred['bboxes'].shape == (len(pred['scores']), 4)
        assert ((pred['labels'] >= 0) &
                (pred['labels'] < len(DEMO_CLASSES))).all()
    # ... from which offline evaluation reproduces the tool's metrics
    from mmdet.evaluation import CocoMetric
    from mmengine.evaluator import Evaluator
    evaluator = Evaluator(CocoMetric(ann_file=ann_file, metric='bbox'))
    evaluator.dataset_meta = dict(classes=DEMO_CLASSES)
    offline = evaluator.offline_evaluate(results)
    assert {k: offline[f'coco/{k}'] for k in COCO_KEYS} == {
        k: metrics[f'coco/{k}'] for k in COCO_KEYS
    }


@pytest.mark.parametrize('eval_mode', ['11points', 'area'])
def test_voc_eval_modes_through_test_tool(eval_mode, checkpoint):
    root, data = checkpoint['root'], checkpoint['data']
    work = root / f'test_voc_{eval_mode}'
    log = run_tool(
        'test.py', VOC_CONFIG, checkpoint['ckpt'], '--work-dir', str(work),
        '--cfg-options',
        f'test_dataloader.dataset.data_root={data}/VOCdevkit/',
        f'test_evaluator.eval_mode={eval_mode}', cwd=str(root))
    # the override reached the evaluator the runner built
    assert f"eval_mode='{eval_mode}'" in log
    metrics = logged_metrics(work)
    assert 0.0 <= metrics['pascal_voc/mAP'] <= 1.0


def perfect_predictions(dataset, relabel=lambda labels: labels) -> list:
    """Every test image's ground truth as its prediction (score 1)."""
    samples = []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        pred = sample.gt_instances.clone()
        pred.labels = relabel(pred.labels)
        pred.scores = torch.ones(len(pred))
        sample.pred_instances = pred
        samples.append(sample.to_dict())
    return samples


def test_demo_coco_config_evaluates_the_demo_json(tmp_path, mmdet_scope):
    from mmdet.registry import DATASETS, METRICS
    generate_demo_dataset(str(tmp_path), num_trainval=2, num_test=NUM_TEST)
    cfg = Config.fromfile(COCO_CONFIG)
    cfg.test_dataloader.dataset.data_root = f'{tmp_path}/'
    cfg.test_evaluator.ann_file = osp.join(
        tmp_path, 'annotations/instances_test.json')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert dataset.metainfo['classes'] == DEMO_CLASSES
    assert len(dataset) == NUM_TEST
    coco = coco_test_json(str(tmp_path))

    def evaluate(samples):
        metric = METRICS.build(cfg.test_evaluator)
        metric.dataset_meta = dataset.metainfo
        metric.process({}, samples)
        return metric.evaluate(len(samples))

    exact = evaluate(perfect_predictions(dataset))
    for key in COCO_KEYS:
        _, high = expected_range(key, coco)
        expected = high if high == -1.0 else 1.0
        assert exact[f'coco/{key}'] == pytest.approx(expected), key
    # the same boxes under the wrong class match nothing
    shifted = evaluate(
        perfect_predictions(dataset,
                            lambda labels: (labels + 1) % len(DEMO_CLASSES)))
    assert shifted['coco/bbox_mAP'] == 0.0


def test_coco_config_is_the_ste_demo_on_coco():
    coco = Config.fromfile(COCO_CONFIG)
    voc = Config.fromfile(VOC_CONFIG)
    assert coco.model == voc.model
    assert coco.optim_wrapper == voc.optim_wrapper
    assert coco.train_cfg == voc.train_cfg
    assert coco.train_dataloader.dataset.type == 'CocoDataset'
    assert coco.test_evaluator.type == 'CocoMetric'
    assert coco.train_dataloader.dataset.pipeline == \
        voc.train_dataloader.dataset.pipeline
    assert os.path.basename(coco.test_evaluator.ann_file) == \
        'instances_test.json'
