# Copyright (c) mmbnn contributors. All rights reserved.
"""tools/deploy/export.py on short real demo trainings: the rebuilt deploy
model gives the trained model's detections, the binarized layers shrink
>= 25x, and an unfinished StoMPP model is refused unless forced."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
from mmengine.runner import find_latest_checkpoint

from mmbnn.apis.launch import build_runner
from mmbnn.datasets import generate_demo_dataset
from mmbnn.deploy import (PackedBinaryConv, export_deploy_checkpoint,
                          kernel_available, load_deploy_model)

from ..conftest import REPO_ROOT
from .kernel_check import (assert_fused_blocks_match,
                           assert_kernel_matches_reference)

EXPORT = osp.join(REPO_ROOT, 'tools/deploy/export.py')
TEST = osp.join(REPO_ROOT, 'tools/test.py')
SURGE = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_surge_demo.py')
STOMPP = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_stompp_demo.py')
# every RoI is kept, so the comparison covers many boxes
TEST_OPTIONS = ['model.test_cfg.rcnn.score_thr=0.0']


def _train(config, work_dir, data, extra=None):
    voc = osp.join(data, 'VOCdevkit') + '/'
    options = {
        f'{key}.dataset.data_root': voc
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    }
    options.update({
        'train_dataloader.batch_size': 4, 'train_cfg.max_epochs': 1,
        'train_cfg.val_interval': 10**6, **(extra or {})
    })
    runner = build_runner(config, 'train', work_dir=work_dir,
                          cfg_options=options)
    runner.train()
    return find_latest_checkpoint(work_dir)


def _export(config, checkpoint, out, *flags):
    return subprocess.run(
        [sys.executable, EXPORT, config, checkpoint, out, *flags,
         '--cfg-options', *TEST_OPTIONS],
        capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp('deploy')
    data = str(root / 'data')
    generate_demo_dataset(data, num_trainval=8, num_test=4)
    return root, data


def _detections(model, images):
    from mmdet.apis import inference_detector
    with torch.no_grad():
        return [r.pred_instances for r in inference_detector(model, images)]


def test_export_rebuilds_surge_model_with_identical_detections(demo):
    from mmdet.apis import init_detector
    root, data = demo
    checkpoint = _train(SURGE, str(root / 'surge'), data)
    out = str(root / 'surge_deploy.pth')
    proc = _export(SURGE, checkpoint, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'x smaller' in proc.stdout

    deploy = load_deploy_model(out, backend='reference')
    packed = [m for m in deploy.modules() if isinstance(m, PackedBinaryConv)]
    assert len(packed) == 24  # 16 backbone + 8 FPN binary convs
    stored = torch.load(out, weights_only=True)
    assert not any('compensator' in k for k in stored['state_dict'])
    sizes = stored['meta']['sizes']
    assert sizes['binary_layers'] == 24
    assert sizes['binary_layers_ratio'] >= 25
    assert sizes['binary_layers_ratio'] <= 32

    trained = init_detector(
        SURGE, checkpoint, device='cpu',
        cfg_options={'model.test_cfg.rcnn.score_thr': 0.0})
    folder = osp.join(data, 'VOCdevkit/VOC2007/JPEGImages')
    images = [osp.join(folder, n) for n in sorted(os.listdir(folder))[:4]]
    expected = _detections(trained, images)
    got = _detections(deploy, images)
    assert sum(len(e) for e in expected) > 0
    for e, g in zip(expected, got):
        assert torch.equal(e.bboxes, g.bboxes)
        assert torch.equal(e.scores, g.scores)
        assert torch.equal(e.labels, g.labels)

    if kernel_available():
        x = torch.randn(2, 3, 128, 128,
                        generator=torch.Generator().manual_seed(0))
        assert_kernel_matches_reference(deploy,
                                        lambda: deploy.extract_feat(x), 24)

    # --fuse: the fused form, recorded in meta, rebuilt by load_deploy_model,
    # equal to the unfused one unit by unit (see assert_fused_blocks_match)
    fused_out = str(root / 'surge_deploy_fused.pth')
    proc = _export(SURGE, checkpoint, fused_out, '--fuse')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '(fused)' in proc.stdout
    assert torch.load(fused_out, weights_only=True)['meta']['fused'] is True
    fused = load_deploy_model(fused_out, backend='reference')
    assert getattr(fused, 'deploy_fused', False)
    x = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    assert assert_fused_blocks_match(
        deploy, fused, lambda model: model.extract_feat(x)) == 8

    # tools/test.py evaluates a deploy checkpoint with the config's metric:
    # on the reference backend the same mAP as the training checkpoint; with
    # its network on OpenVINO (BinaryConvolution) or in float64 the same to
    # float rounding. After one epoch the mAP is near zero (measured 0.002
    # float32, 0.0017 OpenVINO, 0.0057 float64): one evaluation each checks
    # the command line; tests/test_e2e compares trained demos by medians
    # over input scalings
    maps = {}
    for name, ckpt, extra in (('trained', checkpoint, []),
                              ('deploy', out,
                               ['--deploy-backend', 'reference']),
                              ('openvino', out,
                               ['--deploy-backend', 'openvino']),
                              ('float64', out,
                               ['--deploy-backend', 'float64'])):
        proc = subprocess.run(
            [sys.executable, TEST, SURGE, ckpt, '--work-dir',
             str(root / f'test_{name}'), '--cfg-options',
             'test_dataloader.dataset.data_root=' +
             osp.join(data, 'VOCdevkit') + '/', *extra],
            capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        found = re.findall(r'pascal_voc/mAP: ([0-9.]+)', proc.stdout +
                           proc.stderr)
        assert found, proc.stdout[-2000:]
        maps[name] = float(found[-1])
    print(f'SURGE demo, one epoch: mAP {maps}')
    assert maps['deploy'] == maps['trained']
    assert abs(maps['openvino'] - maps['trained']) <= 0.005
    assert abs(maps['float64'] - maps['trained']) <= 0.01
    assert osp.isfile(root / 'test_openvino' / 'openvino' / 'detector.onnx')
    # refused before anything is built
    for error, match, options in (
            (RuntimeError, '--deploy-backend openvino is tested in one '
             'process', dict(launcher='pytorch', deploy_backend='openvino')),
            (RuntimeError, '--deploy-backend float64 is tested in one '
             'process', dict(launcher='pytorch', deploy_backend='float64')),
            (ValueError, '--openvino-shape applies to --deploy-backend '
             'openvino only', dict(deploy_backend='reference',
                                   openvino_shape='fixed'))):
        with pytest.raises(error, match=match):
            build_runner(SURGE, 'test', checkpoint=out,
                         work_dir=str(root / 'refused'), **options)


def test_export_refuses_unfinished_stompp_unless_forced(demo):
    root, data = demo
    # one epoch of a schedule that ends at epoch 7: not binary yet (from
    # iteration 0: these 2-iteration epochs end inside the warm-up)
    checkpoint = _train(STOMPP, str(root / 'stompp'), data,
                        {'custom_hooks.0.after_warmup': False})
    out = str(root / 'stompp_deploy.pth')
    proc = _export(STOMPP, checkpoint, out)
    assert proc.returncode == 1
    assert 'not binary yet' in proc.stderr
    assert ('backbone.layer1.1.conv1: weight frozen fraction 0.000'
            in proc.stderr)
    assert '--force' in proc.stderr
    assert not osp.exists(out)
    proc = _export(STOMPP, checkpoint, out, '--force')
    assert proc.returncode == 0, proc.stderr[-3000:]
    stored = torch.load(out, weights_only=True)
    assert stored['meta']['forced'] is True
    assert not any('progressive' in k for k in stored['state_dict'])
    with pytest.raises(ValueError, match='is the input checkpoint'):
        export_deploy_checkpoint(STOMPP, checkpoint, checkpoint)
