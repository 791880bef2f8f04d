# Copyright (c) mmbnn contributors. All rights reserved.
"""The demo's drawn test images (``draw_test_detections``): ground truth on
the left, detections on the right, upscaled, one PNG per image (an
untrained model on two 128 px demo images; seconds)."""
import os.path as osp

import mmcv
import numpy as np

from mmbnn.apis import build_runner, draw_test_detections
from mmbnn.datasets import generate_demo_dataset

from ..conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')


def test_draws_ground_truth_and_detections(tmp_path):
    data = str(tmp_path / 'data')
    generate_demo_dataset(data, num_trainval=2, num_test=3)
    voc = osp.join(data, 'VOCdevkit') + '/'
    runner = build_runner(
        CONFIG, 'test', checkpoint=str(tmp_path / 'unused.pth'),
        work_dir=str(tmp_path / 'work'),
        cfg_options={'test_dataloader.dataset.data_root': voc})
    out = str(tmp_path / 'plots')
    paths = draw_test_detections(runner, out, num_images=2, score_thr=0.0,
                                 scale=2)
    dataset = runner.test_loop.dataloader.dataset
    names = [osp.splitext(osp.basename(dataset[i]['data_samples'].img_path))
             [0] for i in range(2)]
    assert paths == [osp.join(out, f'detections_{n}.png') for n in names]
    for index, path in enumerate(paths):
        drawn = mmcv.imread(path, channel_order='rgb')
        source = mmcv.imread(dataset[index]['data_samples'].img_path,
                             channel_order='rgb')
        height, width = source.shape[:2]
        assert drawn.shape == (2 * height, 4 * width, 3)
        plain = mmcv.imrescale(source, 2, interpolation='nearest')
        # both halves carry boxes: the ground truth, and (at score 0) the
        # untrained model's detections
        for half in (drawn[:, :2 * width], drawn[:, 2 * width:]):
            changed = np.any(half != plain, axis=2).mean()
            assert 0.005 < changed < 0.9
