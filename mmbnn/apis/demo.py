# Copyright (c) mmbnn contributors. All rights reserved.
"""Train a demo config on the synthetic dataset, then evaluate the saved
checkpoint with a fresh test runner (the ``tools/test.py`` path) and draw
some of its test detections."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner, find_latest_checkpoint

from ..datasets import generate_demo_dataset
from .launch import build_runner

DATASET_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _data_root_options(data_root: str) -> Dict[str, str]:
    voc = osp.join(data_root, 'VOCdevkit') + '/'
    return {f'{key}.dataset.data_root': voc for key in DATASET_KEYS}


def train_and_evaluate(config: str,
                       work_dir: str,
                       data_root: str = 'data/demo',
                       cfg_options: Optional[dict] = None,
                       val_interval: Optional[int] = None,
                       num_images: int = 0) -> Dict:
    """Generate the demo data (if needed), train ``config`` and evaluate its
    last checkpoint on the demo test split.

    Args:
        config (str): A demo config path.
        work_dir (str): Where logs, checkpoints and ``demo_result.json`` go.
        data_root (str): Demo dataset folder. Defaults to ``'data/demo'``.
        cfg_options (dict, optional): Extra config overrides (as
            ``--cfg-options``), applied to training and testing.
        val_interval (int, optional): Validate on the test split every
            ``val_interval`` epochs during training (the mAP curve); None:
            after the last epoch only (MMEngine always validates then).
        num_images (int): Draw the ground truth and the predictions of the
            first ``num_images`` test images into ``work_dir/plots``
            (:func:`draw_test_detections`). Defaults to 0.

    Returns:
        dict: ``config``, ``work_dir``, ``checkpoint``, the test
        ``metrics`` (also written to ``work_dir/demo_result.json``) and the
        drawn ``images``.
    """
    generate_demo_dataset(data_root)
    options = dict(_data_root_options(data_root), **(cfg_options or {}))
    train_options = dict(options)
    train_options['train_cfg.val_interval'] = val_interval or 10**6
    runner = build_runner(config, 'train', work_dir=work_dir,
                          cfg_options=train_options)
    runner.train()
    checkpoint = find_latest_checkpoint(work_dir)  # CheckpointHook's record
    tester = build_runner(config, 'test', checkpoint=checkpoint,
                          work_dir=work_dir, cfg_options=options)
    metrics = {k: float(v) for k, v in tester.test().items()}
    images = draw_test_detections(tester, osp.join(work_dir, 'plots'),
                                  num_images) if num_images else []
    result = dict(config=config, work_dir=osp.abspath(work_dir),
                  checkpoint=osp.abspath(checkpoint), metrics=metrics,
                  images=[osp.abspath(path) for path in images])
    with open(osp.join(work_dir, 'demo_result.json'), 'w') as f:
        json.dump(result, f, indent=2)
    return result


def evaluate_checkpoint(config: str,
                        checkpoint: str,
                        work_dir: str,
                        data_root: str = 'data/demo',
                        cfg_options: Optional[dict] = None,
                        deploy_backend: str = 'auto',
                        openvino_shape: Optional[str] = None
                        ) -> Dict[str, float]:
    """Evaluate ``checkpoint`` of a demo config on the demo test split with
    a fresh test runner, as ``tools/test.py CONFIG CHECKPOINT
    --deploy-backend BACKEND [--openvino-shape SHAPE]`` does.

    Returns:
        dict: The test metrics (floats).
    """
    options = dict(_data_root_options(data_root), **(cfg_options or {}))
    tester = build_runner(config, 'test', checkpoint=checkpoint,
                          work_dir=work_dir, cfg_options=options,
                          deploy_backend=deploy_backend,
                          openvino_shape=openvino_shape)
    return {k: float(v) for k, v in tester.test().items()}


def draw_test_detections(runner: Runner,
                         out_dir: str,
                         num_images: int = 4,
                         score_thr: float = 0.3,
                         scale: int = 4) -> List[str]:
    """Draw the first ``num_images`` images of ``runner``'s test split with
    mmdet's ``DetLocalVisualizer``: the ground truth on the left, the
    model's detections scoring above ``score_thr`` on the right.

    Args:
        runner (Runner): A test runner (``build_runner(..., 'test')``).
        out_dir (str): Where ``detections_<image name>.png`` go.
        num_images (int): How many images. Defaults to 4.
        score_thr (float): Lowest score drawn. Defaults to 0.3 (mmdet's
            ``DetVisualizationHook`` default).
        scale (int): Upscaling of the drawing, so that labels stay
            readable on small images. Defaults to 4.

    Returns:
        list[str]: The written PNG paths.
    """
    import mmcv
    from mmdet.structures.bbox import get_box_tensor
    from mmdet.visualization import DetLocalVisualizer
    dataset = runner.test_loop.dataloader.dataset
    visualizer = DetLocalVisualizer.get_instance(
        f'mmbnn_test_detections_{osp.abspath(out_dir)}')
    visualizer.dataset_meta = dataset.metainfo
    model = runner.model
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for index in range(min(num_images, len(dataset))):
        with torch.no_grad():
            sample = model.test_step(pseudo_collate([dataset[index]]))[0]
        sample = sample.cpu()
        for key in ('gt_instances', 'pred_instances'):
            instances = sample.get(key).clone()
            instances.bboxes = get_box_tensor(instances.bboxes) * scale
            sample.set_field(instances, key)
        image = mmcv.imread(sample.img_path, channel_order='rgb')
        image = mmcv.imrescale(image, scale, interpolation='nearest')
        name = osp.splitext(osp.basename(sample.img_path))[0]
        path = osp.join(out_dir, f'detections_{name}.png')
        visualizer.add_datasample(name, image, sample, draw_gt=True,
                                  draw_pred=True, pred_score_thr=score_thr,
                                  out_file=path)
        paths.append(path)
    return paths
