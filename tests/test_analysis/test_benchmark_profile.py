# Copyright (c) mmbnn contributors. All rights reserved.
"""benchmark_detector.py --profile: OpenVINO's per-layer performance
counters of the FP32 / INT8 / binary / binary+INT8 demo networks grouped
per layer category, and the refusal without --backend openvino."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from mmbnn.analysis.benchmark_detector import (PROFILE_CATEGORIES,
                                               binary_by_resolution,
                                               check_openvino_only,
                                               layer_category)

from ..conftest import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools/analysis_tools/benchmark_detector.py')
BINARY = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_binrpn_demo.py')
FP = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_fp_demo.py')


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, TOOL, BINARY, '--fp-config', FP, '--image-size',
         '64', '96', '--repeats', '1', '--warmup', '0', *args],
        capture_output=True, text=True, cwd=REPO_ROOT)


@pytest.mark.parametrize('fields, category', [
    (('BinaryConvolution', 'u1', ['f32']), 'BinaryConvolution'),
    (('Convolution', 'u8', ['f32']), 'INT8 conv/FC'),
    (('FullyConnected', 'f32', ['f32']), 'FP32 conv/FC'),
    (('FakeQuantize', 'f32', ['u1']), 'binarization'),
    (('FakeQuantize', 'f32', ['f32']), '8-bit quantize/dequantize'),
    (('Subgraph', 'f32', ['u8']), '8-bit quantize/dequantize'),
    (('Reorder', 'u8', ['u8']), 'reorder'),
    (('MaxPool', 'u8', ['u8']), 'eltwise/other'),
    (('Subgraph', 'f32', ['f32']), 'eltwise/other'),
])
def test_layer_category(fields, category):
    assert layer_category(*fields) == category


def test_binary_by_resolution_groups_and_shares():
    layers = [dict(category='BinaryConvolution', shape=[1, 8, 4, 4], ms=1.0),
              dict(category='BinaryConvolution', shape=[1, 8, 8, 8], ms=2.0),
              dict(category='BinaryConvolution', shape=[1, 4, 4, 4], ms=1.0),
              dict(category='reorder', shape=[1, 8, 8, 8], ms=5.0)]
    assert binary_by_resolution(dict(layers=layers)) == [
        dict(resolution='8x8', layers=1, ms=2.0, share=0.5),
        dict(resolution='4x4', layers=2, ms=2.0, share=0.5)]


def test_profile_refused_without_openvino():
    with pytest.raises(ValueError, match="--profile needs --backend "
                       "openvino.*'torch', 'openvino'"):
        check_openvino_only('--profile', True, 'torch')
    check_openvino_only('--profile', False, 'torch')
    done = _run('--profile')
    assert done.returncode != 0
    assert 'ValueError: --profile needs --backend openvino' in done.stderr


def test_command_line_profile(tmp_path):
    out = tmp_path / 'rows.json'
    done = _run('--backend', 'openvino', '--int8', '--int8-scope', 'all',
                '--no-fuse', '--threads', '1', '--profile', '--profile-runs',
                '2', '--out', str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'int8 scope: all' in done.stdout
    assert json.loads(out.read_text())['int8_scope'] == 'all'
    assert '| category | FP32 (OpenVINO) ms (layers) |' in done.stdout
    assert 'BinaryConvolution time per output resolution' in done.stdout
    profiles = json.loads(out.read_text())['profiles']
    assert list(profiles) == ['FP32 (OpenVINO)', 'INT8 (OpenVINO)',
                              'binary (OpenVINO)', 'binary+INT8 (OpenVINO)']
    for name, profile in profiles.items():
        categories = profile['categories']
        assert list(categories) == list(PROFILE_CATEGORIES)
        assert all(c['ms'] >= 0 for c in categories.values())
        assert sum(c['ms'] for c in categories.values()) == pytest.approx(
            profile['total_ms'])
        assert sum(c['layers'] for c in categories.values()) == len(
            profile['layers'])
        assert profile['total_ms'] > 0 and profile['runs'] == 2
        binary = categories['BinaryConvolution']['layers']
        assert (binary > 0) == name.startswith('binary'), name
        int8 = categories['INT8 conv/FC']['layers']
        assert (int8 > 0) == ('INT8' in name), name
        if binary:
            assert categories['binarization']['layers'] > 0
            groups = profile['binary_by_resolution']
            assert sum(g['layers'] for g in groups) == binary
            assert 'unknown' not in [g['resolution'] for g in groups]
