# Copyright (c) mmbnn contributors. All rights reserved.
"""Train a demo config on the synthetic dataset, then evaluate the saved
checkpoint with a fresh test runner (the ``tools/test.py`` path)."""
import json
import os.path as osp
from argparse import Namespace
from typing import Dict, Optional

from mmengine.runner import find_latest_checkpoint

from ..datasets import generate_demo_dataset
from .launch import build_runner

DATASET_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _data_root_options(data_root: str) -> Dict[str, str]:
    voc = osp.join(data_root, 'VOCdevkit') + '/'
    return {f'{key}.dataset.data_root': voc for key in DATASET_KEYS}


def train_and_evaluate(config: str,
                       work_dir: str,
                       data_root: str = 'data/demo',
                       cfg_options: Optional[dict] = None) -> Dict:
    """Generate the demo data (if needed), train ``config`` and evaluate its
    last checkpoint on the demo test split.

    Args:
        config (str): A demo config path.
        work_dir (str): Where logs, checkpoints and ``demo_result.json`` go.
        data_root (str): Demo dataset folder. Defaults to ``'data/demo'``.
        cfg_options (dict, optional): Extra config overrides (as
            ``--cfg-options``), applied to training and testing.

    Returns:
        dict: ``config``, ``work_dir``, ``checkpoint`` and the test
        ``metrics`` (also written to ``work_dir/demo_result.json``).
    """
    generate_demo_dataset(data_root)
    options = dict(_data_root_options(data_root), **(cfg_options or {}))
    common = dict(work_dir=work_dir, cfg_options=options, launcher='none',
                  local_rank=0)
    train_options = dict(options)
    # evaluation happens once, below, from the saved checkpoint
    train_options['train_cfg.val_interval'] = 10**6
    runner = build_runner(
        Namespace(config=config, amp=False, auto_scale_lr=False, resume=None,
                  **dict(common, cfg_options=train_options)), 'train')
    runner.train()
    checkpoint = find_latest_checkpoint(work_dir)  # CheckpointHook's record
    metrics = evaluate_checkpoint(config, checkpoint, work_dir, data_root,
                                  cfg_options)
    result = dict(config=config, work_dir=osp.abspath(work_dir),
                  checkpoint=osp.abspath(checkpoint), metrics=metrics)
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
    tester = build_runner(
        Namespace(config=config, checkpoint=checkpoint, out=None,
                  show_dir=None, work_dir=work_dir, cfg_options=options,
                  launcher='none', local_rank=0,
                  deploy_backend=deploy_backend,
                  openvino_shape=openvino_shape), 'test')
    return {k: float(v) for k, v in tester.test().items()}
