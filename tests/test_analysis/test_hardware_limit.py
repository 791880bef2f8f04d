# Copyright (c) mmbnn contributors. All rights reserved.
"""benchmark_detector.py --hardware-limit (mmbnn.analysis.hardware_limit):
MAC counts read off OpenVINO execution graphs against the formulas, the
1-bit / INT8 / FP32 split of the demo networks, the IR sizes, the limit
arithmetic, the peak layers and the refusal without --backend openvino."""
import json
import math
import os.path as osp
import runpy
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mmbnn.analysis.benchmark_detector import (check_openvino_only,
                                               openvino_variants,
                                               prepare_batch)
from mmbnn.analysis.hardware_limit import (WORK_CATEGORIES,
                                           format_hardware_limit,
                                           hardware_limit_ms, limit_fields,
                                           measure_peaks, network_work)
from mmbnn.deploy.loading import build_detector, load_config

from ..conftest import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools/analysis_tools/benchmark_detector.py')
BINARY = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_binrpn_demo.py')
FP = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_fp_demo.py')


def _compiled(outputs, inputs):
    import openvino as ov

    from mmbnn.deploy.openvino_graph import compile_model
    return compile_model(ov.Model(outputs, inputs), threads=1)


def _fp32_only(macs: int) -> dict:
    return {'BinaryConvolution': 0, 'INT8 conv/FC': 0, 'FP32 conv/FC': macs}


def test_network_work_of_single_layers_is_the_formula():
    import openvino.opset13 as ops
    x = ops.parameter([1, 16, 10, 12], np.float32)
    # 24 output channels, stride (2, 1): 5x12 outputs
    conv = ops.convolution(x, ops.constant(np.ones((24, 16, 3, 3),
                                                   np.float32)),
                           [2, 1], [1, 1], [1, 1], [1, 1])
    assert network_work(_compiled([conv], [x])) == _fp32_only(
        24 * 5 * 12 * 16 * 3 * 3)
    # 4 groups of 4 input / 6 output channels, 3x5 kernel, same size out
    grouped = ops.group_convolution(
        x, ops.constant(np.ones((4, 6, 4, 3, 5), np.float32)), [1, 1],
        [1, 2], [1, 2], [1, 1])
    assert network_work(_compiled([grouped], [x])) == _fp32_only(
        24 * 10 * 12 * 4 * 3 * 5)
    # (7, 33) x (33, 5) with constant, transposed weights: FullyConnected
    a = ops.parameter([7, 33], np.float32)
    fc = ops.matmul(a, ops.constant(np.ones((5, 33), np.float32)), False,
                    True)
    assert network_work(_compiled([fc], [a])) == _fp32_only(7 * 5 * 33)
    # batched (33, 7)^T x (33, 9) of two inputs: a MatMul layer
    b = ops.parameter([2, 33, 7], np.float32)
    c = ops.parameter([2, 33, 9], np.float32)
    matmul = ops.matmul(b, c, True, False)
    assert network_work(_compiled([matmul], [b, c])) == _fp32_only(
        2 * 7 * 9 * 33)


@pytest.fixture(scope='module')
def demo_variants(tmp_path_factory):
    """FP32, INT8, binary and binary+INT8 OpenVINO networks of the demo
    Faster R-CNNs (random weights, 64x64 inputs)."""
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmdet')
    models = []
    for config in (FP, BINARY):
        cfg = load_config(config)
        torch.manual_seed(0)
        model = build_detector(cfg).eval()
        batch = prepare_batch(model, cfg, (64, 64), 1)
        # a 64x64 network (the pipeline makes 128x128): cheaper to build
        batch['inputs'] = batch['inputs'][..., :64, :64].contiguous()
        models += [model, batch]
    variants = openvino_variants(*models,
                                 str(tmp_path_factory.mktemp('hw_limit')),
                                 threads=1, int8=True)
    DefaultScope._instance_dict.clear()
    return variants


def test_demo_networks_work_per_precision(demo_variants):
    work = {name: network_work(model.network.compiled)
            for name, (model, _) in demo_variants.items()}
    assert list(work) == ['FP32 (OpenVINO)', 'INT8 (OpenVINO)',
                          'binary (OpenVINO)', 'binary+INT8 (OpenVINO)']
    fp32, int8, binary, binary_int8 = work.values()
    assert fp32['FP32 conv/FC'] > 0
    assert fp32 == _fp32_only(fp32['FP32 conv/FC'])
    # every conv quantized, same layers: the same MACs, all INT8
    assert int8 == {'BinaryConvolution': 0,
                    'INT8 conv/FC': fp32['FP32 conv/FC'], 'FP32 conv/FC': 0}
    # the binarized convs are counted as 1-bit work, the rest as FP32
    assert binary['BinaryConvolution'] > 0 and binary['INT8 conv/FC'] == 0
    assert binary['FP32 conv/FC'] > 0
    # quantizing moves real convs from FP32 to INT8, the 1-bit ones stay
    assert binary_int8['BinaryConvolution'] == binary['BinaryConvolution']
    assert binary_int8['INT8 conv/FC'] > 0
    assert sum(binary_int8.values()) == sum(binary.values())
    # the binary trunk is most of the work
    assert binary['BinaryConvolution'] > 10 * binary['FP32 conv/FC']


def test_demo_networks_ir_size(demo_variants):
    sizes = {name: model.ir_size_mb
             for name, (model, _) in demo_variants.items()}
    assert all(size > 0 for size in sizes.values())
    # 1-bit weights packed, INT8 weights stored as 8-bit constants
    assert sizes['binary (OpenVINO)'] < sizes['FP32 (OpenVINO)'] / 4
    assert sizes['INT8 (OpenVINO)'] < sizes['FP32 (OpenVINO)'] / 2
    assert sizes['binary+INT8 (OpenVINO)'] < sizes['FP32 (OpenVINO)'] / 4


def test_hardware_limit_arithmetic_and_missing_peak():
    work = {'BinaryConvolution': 4e9, 'INT8 conv/FC': 1e9,
            'FP32 conv/FC': 0}
    peaks = {'BinaryConvolution': dict(mac_per_s=400e9, shape='conv'),
             'INT8 conv/FC': 100e9}
    # 10 ms + 10 ms; no FP32 work, so no FP32 peak needed
    assert hardware_limit_ms(work, peaks) == pytest.approx(20.0)
    fields = limit_fields(50.0, work, peaks)
    assert fields['limit_ms'] == pytest.approx(20.0)
    assert fields['above_limit'] == pytest.approx(2.5)
    assert fields['limit_share'] == pytest.approx(0.4)
    assert fields['gmacs'] == {'BinaryConvolution': 4.0,
                               'INT8 conv/FC': 1.0, 'FP32 conv/FC': 0.0}
    with pytest.raises(ValueError, match="'FP32 conv/FC'.*available: "
                       "'BinaryConvolution', 'INT8 conv/FC'"):
        hardware_limit_ms(dict(work, **{'FP32 conv/FC': 1}), peaks)
    with pytest.raises(ValueError, match="'INT8 conv/FC' is 0"):
        hardware_limit_ms(work, dict(peaks, **{'INT8 conv/FC': 0}))
    row = dict(name='binary (OpenVINO)', proposals=None, network_ms=50.0,
               ir_size_mb=1.5, **fields)
    table = format_hardware_limit([row], dict(
        BinaryConvolution=dict(mac_per_s=400e9, shape='conv 256x38x38')))
    assert ('| binary (OpenVINO) | config | 50.00 | 1.50 | 4.000 | 1.000 | '
            '0.000 | 20.00 | 2.5x | 40% |') in table
    assert table.endswith('peaks: BinaryConvolution 400.0 GMAC/s (conv '
                          '256x38x38)')


def test_measure_peaks_tiny_layers():
    peaks = measure_peaks(1, conv_shapes=((16, 6, 6), ),
                          fc_shapes=((4, 32, 16), ), repeats=1, warmup=0)
    assert list(peaks) == list(WORK_CATEGORIES)
    for category, peak in peaks.items():
        assert math.isfinite(peak['mac_per_s']) and peak['mac_per_s'] > 0
        assert peak['mac_per_s'] == max(r['mac_per_s']
                                        for r in peak['runs'])
    assert [r['shape'] for r in peaks['BinaryConvolution']['runs']] == [
        'conv 16x6x6 3x3']
    assert peaks['BinaryConvolution']['runs'][0]['macs'] == \
        16 * 36 * 16 * 9
    assert [r['shape'] for r in peaks['INT8 conv/FC']['runs']] == [
        'conv 16x6x6 3x3', 'fc 4x32x16']
    assert peaks['FP32 conv/FC']['runs'][1]['macs'] == 4 * 32 * 16
    with pytest.raises(ValueError, match='repeats=0'):
        measure_peaks(1, repeats=0)


def test_hardware_limit_refused_without_openvino(monkeypatch):
    with pytest.raises(ValueError, match="--hardware-limit needs --backend "
                       "openvino.*'torch', 'openvino'"):
        check_openvino_only('--hardware-limit', True, 'torch')
    check_openvino_only('--hardware-limit', False, 'torch')
    check_openvino_only('--hardware-limit', True, 'openvino')
    main = runpy.run_path(TOOL)['main']
    base = [TOOL, BINARY, '--fp-config', FP]
    # refused before any model is built
    monkeypatch.setattr(sys, 'argv', base + ['--hardware-limit'])
    with pytest.raises(ValueError, match='--hardware-limit needs'):
        main()
    monkeypatch.setattr(sys, 'argv', base + [
        '--backend', 'openvino', '--peak-repeats', '3'])
    with pytest.raises(SystemExit, match='--peak-repeats applies to '
                       '--hardware-limit'):
        main()
    monkeypatch.setattr(sys, 'argv', base + [
        '--backend', 'openvino', '--hardware-limit', '--peak-repeats', '0'])
    with pytest.raises(SystemExit, match='--peak-repeats=0 must be >= 1'):
        main()


def test_report_writes_limits_of_every_openvino_row(demo_variants, tmp_path,
                                                    capsys, monkeypatch):
    """The tool's timing-and-report path with ``--hardware-limit``: every
    OpenVINO row gets its network time and the limit from its own MACs at
    the measured peaks, a PyTorch row none, and ``--out`` holds rows and
    peaks."""
    report = runpy.run_path(TOOL)['_run_and_report']
    calls = []

    def tiny_peaks(threads, repeats=10, **config):
        calls.append(dict(threads=threads, repeats=repeats, **config))
        return measure_peaks(threads, conv_shapes=((16, 6, 6), ),
                             fc_shapes=((4, 32, 16), ), repeats=repeats,
                             warmup=0, **config)

    monkeypatch.setitem(report.__globals__, 'measure_peaks', tiny_peaks)
    variants = {name: demo_variants[name]
                for name in ('FP32 (OpenVINO)', 'binary (OpenVINO)')}
    data = variants['binary (OpenVINO)'][1]
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmdet')
    torch.manual_seed(0)
    variants['binary (PyTorch)'] = (build_detector(load_config(BINARY)).eval(),
                                    data)
    DefaultScope._instance_dict.clear()
    out = tmp_path / 'bench.json'
    args = SimpleNamespace(
        image_size=[64, 64], repeats=1, warmup=0, order='interleaved',
        proposals=None, profile=False, roi_head_openvino=False,
        hardware_limit=True, peak_repeats=2, threads=1, out=str(out),
        config=BINARY, fp_config=FP)
    report(args, variants, data, 'FP32 (OpenVINO)', 'setup', dict(),
           cpu_config=dict(CPU_DENORMALS_OPTIMIZATION=True))
    assert calls == [dict(threads=1, repeats=2,
                          CPU_DENORMALS_OPTIMIZATION=True)]
    written = json.loads(out.read_text())
    assert set(written['peaks']) == set(WORK_CATEGORIES)
    rows = {row['name']: row for row in written['rows']}
    assert set(rows) == set(variants)
    assert 'limit_ms' not in rows.pop('binary (PyTorch)')
    peaks = written['peaks']
    for name, row in rows.items():
        work = network_work(variants[name][0].network.compiled)
        # each category's MACs at its peak MAC/s, in ms
        limit = sum(macs / peaks[category]['mac_per_s'] * 1e3
                    for category, macs in work.items() if macs)
        assert row['network_ms'] > 0
        assert row['limit_ms'] == pytest.approx(limit)
        assert row['above_limit'] == pytest.approx(
            row['network_ms'] / limit)
    assert rows['binary (OpenVINO)']['gmacs']['BinaryConvolution'] > 0
    assert rows['FP32 (OpenVINO)']['gmacs']['BinaryConvolution'] == 0
    printed = capsys.readouterr().out
    assert 'Machine limit per OpenVINO network' in printed
    assert '| binary (OpenVINO) |' in printed.split('Machine limit')[1]
