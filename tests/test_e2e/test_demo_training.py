# Copyright (c) mmbnn contributors. All rights reserved.
"""End to end on CPU: the demo configs train on the synthetic dataset and
are evaluated from their checkpoints with mmdet's VOCMetric.

Thresholds sit well below what the configs reached when measured (README,
"Results"), so that they fail on a real regression, not on noise.
"""
import json
import os.path as osp

import pytest

from mmbnn.apis import train_and_evaluate

from ..conftest import REPO_ROOT

# config -> (minimum VOC mAP@0.5 on the demo test split, epochs, extra
# options). FP and STE run the demo configs' whole 10-epoch budget (the
# issue's targets: FP >= 0.6, STE >= 0.3; measured 0.742 and 0.753). SURGE
# measured 0.436 after 4 epochs, StoMPP 0.081 after 3. SURGE and
# StoMPP run shortened cosine schedules (StoMPP's binarization then ends at
# epoch 2 of 3) to keep the suite near 15 minutes on 2 cores; SURGE must still
# clear the STE threshold, StoMPP must train and evaluate (STE-free StoMPP
# learns slowest: README, "Results"). The binary SSD demo runs its whole
# 20-epoch budget (measured 0.406; it is at 0.06 after 10 epochs).
DEMO_CASES = {
    'configs/demo/faster_rcnn_r18_fp_demo.py': (0.6, 10, {}),
    'configs/demo/faster_rcnn_r18_ste_demo.py': (0.3, 10, {}),
    'configs/demo/faster_rcnn_r18_surge_demo.py': (0.3, 4, {}),
    'configs/demo/faster_rcnn_r18_stompp_demo.py':
    (0.05, 3, {'custom_hooks.0.end': 2}),
    'configs/demo/ssd_vgg16_ste_demo.py': (0.25, 20, {}),
}


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory):
    return str(tmp_path_factory.mktemp('demo_data'))


@pytest.mark.e2e
@pytest.mark.parametrize('config', sorted(DEMO_CASES))
def test_demo_config_trains_and_reaches_map(config, demo_data, tmp_path):
    threshold, epochs, extra = DEMO_CASES[config]
    options = {
        'train_cfg.max_epochs': epochs,
        'param_scheduler.1.end': epochs,
        **extra
    }
    result = train_and_evaluate(
        osp.join(REPO_ROOT, config), str(tmp_path / 'work'), demo_data,
        options)
    mean_ap = result['metrics']['pascal_voc/mAP']
    print(f'{config} ({epochs} epochs): VOC mAP@0.5 = {mean_ap:.4f}')
    assert mean_ap >= threshold
    with open(tmp_path / 'work' / 'demo_result.json') as f:
        assert json.load(f)['metrics']['pascal_voc/mAP'] == mean_ap
