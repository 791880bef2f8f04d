# Copyright (c) mmbnn contributors. All rights reserved.
"""benchmark_detector: per-stage timing of real predict calls on the demo
configs, restored methods, proposal counts, and the command line."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmbnn.analysis.benchmark_binary_conv import timed_calls
from mmbnn.analysis.benchmark_detector import (benchmark_detectors,
                                               format_rows, prepare_batch,
                                               stage_timers)
from mmbnn.deploy import convert_to_deploy
from mmbnn.deploy.loading import build_detector, load_config

from ..conftest import REPO_ROOT

FRCNN = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_binrpn_demo.py')
SSD = osp.join(REPO_ROOT, 'configs/demo/ssd_vgg16_ste_demo.py')


def _model(config):
    cfg = load_config(config)
    torch.manual_seed(0)
    return cfg, build_detector(cfg).eval()


def test_stage_timers_time_the_stages_and_restore_them(mmdet_scope):
    cfg, model = _model(FRCNN)
    data = prepare_batch(model, cfg, (96, 128), batch=2)
    assert data['inputs'].shape[0] == 2
    with torch.no_grad():
        expected = model.predict(data['inputs'], data['data_samples'])
    sink = {}
    with torch.no_grad(), stage_timers(model, sink):
        results = model.predict(data['inputs'], data['data_samples'])
    assert set(sink) == {
        'backbone', 'neck', 'rpn_head', 'rpn_proposals', 'roi_extractor',
        'roi_bbox_head', 'roi_post', 'rois'
    }
    assert all(sink[k] > 0 for k in sink)
    # the RoI head received every image's proposals (at most 100 each)
    assert 0 < sink['rois'] <= 2 * 100
    for a, b in zip(expected, results):  # timing does not change outputs
        assert torch.equal(a.pred_instances.bboxes, b.pred_instances.bboxes)
    for module in (model.backbone, model.rpn_head, model.roi_head.bbox_head):
        assert 'forward' not in vars(module)
        assert 'predict_by_feat' not in vars(module)


def test_benchmark_rows_for_two_stage_and_ssd(mmdet_scope):
    cfg, frcnn = _model(FRCNN)
    ssd_cfg, ssd = _model(SSD)
    deploy = convert_to_deploy(frcnn, backend='reference')
    variants = {
        'frcnn': (deploy, prepare_batch(deploy, cfg, (96, 128), 1)),
        'ssd': (ssd, prepare_batch(ssd, ssd_cfg, (96, 128), 1)),
    }
    rows = benchmark_detectors(variants, proposals=(20, 5), repeats=2,
                               warmup=1)
    assert [(r['name'], r['proposals']) for r in rows] == [
        ('frcnn', 20), ('frcnn', 5), ('ssd', 20), ('ssd', 5)]
    for row in rows:
        stages = row['stages_ms']
        assert stages['other'] >= 0
        assert sum(stages.values()) == pytest.approx(row['total_ms'],
                                                     rel=0.5)
    assert rows[0]['rois'] <= 20 and rows[1]['rois'] <= 5
    assert rows[0]['rois'] > rows[1]['rois'] > 0
    assert set(rows[2]['stages_ms']) == {'backbone', 'neck', 'bbox_head',
                                         'bbox_post', 'other'}
    assert rows[2]['rois'] == 0
    table = format_rows(rows, 'frcnn')
    assert table.count('\n') == 1 + len(rows)
    assert '| frcnn | 20 |' in table and '1.00x' in table


def _command(*extra: str) -> list:
    """benchmark_detector.py on the binary-RPN and FP demo configs, one
    short round (``extra`` before the final ``--out PATH`` pair)."""
    return [
        sys.executable,
        osp.join(REPO_ROOT, 'tools/analysis_tools/benchmark_detector.py'),
        FRCNN, '--fp-config',
        osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_fp_demo.py'),
        '--image-size', '64', '96', '--repeats', '1', '--warmup', '0',
        *extra
    ]


def test_command_line(tmp_path):
    out = tmp_path / 'rows.json'
    cmd = _command('--out', str(out))
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    assert 'SIMD path' in done.stdout and '| binary deploy |' in done.stdout
    rows = json.loads(out.read_text())['rows']
    assert [r['name'] for r in rows] == ['FP32', 'binary deploy',
                                         'binary deploy fused']
    no_fuse = subprocess.run(
        cmd + ['--no-fuse', '--with-fast-fp', '--order', 'blocked'],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert no_fuse.returncode == 0, no_fuse.stderr
    assert '1 blocked rounds' in no_fuse.stdout
    report = json.loads(out.read_text())
    assert report['order'] == 'blocked'
    assert [r['name'] for r in report['rows']
            ] == ['FP32', 'FP32 fast pooling/RoIAlign', 'binary deploy']
    bad = subprocess.run(cmd[:-2] + ['--repeats', '0'], capture_output=True,
                         text=True, cwd=REPO_ROOT)
    assert bad.returncode != 0 and '--repeats=0 must be >= 1' in bad.stderr


def test_command_line_openvino(tmp_path):
    """--backend openvino: FP32 and binary networks on OpenVINO, and
    mmbnn's own fused kernel model in the same rounds (when built)."""
    from mmbnn.ops import xnor
    out = tmp_path / 'rows.json'
    cmd = _command('--backend', 'openvino', '--threads', '1', '--out',
                   str(out))
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())['rows']
    kernel = ['binary deploy fused (mmbnn kernel)'] if \
        xnor.is_available() else []
    assert [r['name'] for r in rows] == [
        'FP32 (OpenVINO)', 'binary (OpenVINO)', *kernel]
    assert all(r['stages_ms'].get('openvino_network', 0) > 0
               for r in rows[:2])
    if kernel:  # its network stages run in PyTorch
        assert rows[2]['stages_ms']['backbone'] > 0


@pytest.mark.parametrize('order, expected', [
    ('interleaved', list('abcabcabc')),
    ('blocked', list('aaabbbccc')),
])
def test_timed_calls_order_and_warmup(order, expected):
    """Calls in the requested order; the warm-up call (slow here) of each
    function is not among its timed calls."""
    import time
    calls = []

    def call(name):
        if name not in calls:
            time.sleep(0.2)  # the first (warm-up) call only
        calls.append(name)

    fns = {name: (lambda name=name: call(name)) for name in 'abc'}
    times = timed_calls(fns, repeats=2, warmup=1, order=order)
    assert calls == expected
    assert {name: len(ts) for name, ts in times.items()} == dict(a=2, b=2,
                                                                 c=2)
    assert all(0 <= t < 0.1 for ts in times.values() for t in ts)
    with pytest.raises(ValueError, match='order'):
        timed_calls(fns, repeats=1, order='random')
