# Copyright (c) mmbnn contributors. All rights reserved.
"""Complexity report: exact counts on a hand-computable model, the demo
detector's binarized layers, the deploy form and the CLI."""
import json
import os.path as osp
import runpy
import sys

import pytest
from torch import nn

from mmbnn.analysis import (config_complexity, count_complexity,
                            default_input_shape, format_table,
                            tensor_forward)
from mmbnn.analysis.complexity import build_model_from_config
from mmbnn.ops import BinaryConv

from ..conftest import REPO_ROOT

DEMO_STE = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')


class TinyNet(nn.Module):
    """stem (real 3->8 3x3) -> binary 8->8 3x3 stride 2 (bias, threshold,
    SURGE) -> weight-only binary 1x1 8->4 (learnable scale) -> BN -> the same
    Linear 4->2 applied twice (mean- and max-pooled features)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bconv = BinaryConv(8, 8, 3, stride=2, padding=1, bias=True,
                                act_threshold=True,
                                compensator=dict(type='SURGE'))
        self.wconv = BinaryConv(8, 4, 1, bias=False, binarize_act=False,
                                weight_scaling='learnable')
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = self.bn(self.wconv(self.bconv(self.stem(x))))
        return self.fc(x.mean(dim=(2, 3))) + self.fc(x.amax(dim=(2, 3)))


def test_tiny_model_counts_by_hand():
    model = TinyNet()
    result = count_complexity(model, tensor_forward((1, 3, 16, 16)))
    layers = {layer.name: layer for layer in result.layers}
    assert list(layers) == ['stem', 'bconv', 'wconv', 'fc']

    # stem: output 8x16x16 = 2048 elements, 3*3*3 = 27 MACs each
    stem = layers['stem']
    assert (stem.precision, stem.weight_bits, stem.calls) == ('real', 32, 1)
    assert (stem.bops, stem.flops) == (0, 2048 * 27)
    assert (stem.binary_params, stem.real_params) == (0, 8 * 27 + 8)

    # bconv: output 8x8x8 = 512 elements, 8*3*3 = 72 binary MACs each;
    # 8*8*9 = 576 1-bit weights; bias 8 + threshold 8 + mean_abs scale 8
    bconv = layers['bconv']
    assert (bconv.precision, bconv.weight_bits) == ('binary', 1)
    assert (bconv.bops, bconv.flops) == (512 * 72, 0)
    assert (bconv.binary_params, bconv.real_params) == (576, 24)

    # wconv: 1-bit weights but real input -> FLOPs: output 4x8x8 = 256
    # elements, 8 MACs each; 4*8 = 32 1-bit weights + 4 learnable scales
    wconv = layers['wconv']
    assert (wconv.precision, wconv.weight_bits) == ('binary weight', 1)
    assert (wconv.bops, wconv.flops) == (0, 256 * 8)
    assert (wconv.binary_params, wconv.real_params) == (32, 4)

    # fc: called twice, 2 outputs x 4 MACs per call; 4*2 + 2 params
    fc = layers['fc']
    assert (fc.calls, fc.flops, fc.real_params) == (2, 2 * 2 * 4, 10)

    assert result.other_params == 8  # BN weight + bias
    assert result.binary_params == 576 + 32
    assert result.real_params == 224 + 24 + 4 + 10 + 8
    assert result.bops == 36864
    assert result.flops == 55296 + 2048 + 16
    assert result.ops == 36864 / 64 + 57360
    assert result.deploy_bytes == 608 / 8 + 270 * 4
    # SURGE's W_a (one per binary weight) plus its scalar state buffers
    scalars = list(model.bconv.compensator.buffers())
    assert all(b.dim() == 0 for b in scalars)
    assert result.training_only_params == 576 + len(scalars)
    assert result.input_shape == (1, 3, 16, 16)
    assert model.training  # restored after the eval-mode forward

    table = format_table(result)
    assert 'bconv' in table and 'OPs = BOPs/64 + FLOPs: 57.94K' in table


def test_deploy_form_reports_the_same_totals():
    deploy = pytest.importorskip('mmbnn.deploy')
    model = TinyNet()
    trained = count_complexity(model, tensor_forward((1, 3, 16, 16)))
    deploy.convert_to_deploy(model, backend='reference')
    packed = count_complexity(model, tensor_forward((1, 3, 16, 16)))
    assert [layer.type for layer in packed.layers] == [
        'Conv2d', 'PackedBinaryConv', 'PackedBinaryConv', 'Linear'
    ]
    for key in ('binary_params', 'real_params', 'bops', 'flops'):
        assert packed.totals()[key] == trained.totals()[key], key
    assert packed.layers[2].precision == 'binary weight'
    assert packed.training_only_params == 0


def test_demo_detector_binarized_layers(mmdet_scope):
    result = config_complexity(DEMO_STE, shape=(64, 64))
    binary = [layer.name for layer in result.layers
              if layer.precision == 'binary']
    expected = [
        f'backbone.layer{stage}.{block}.conv{conv}' for stage in range(1, 5)
        for block in range(2) for conv in (1, 2)
    ] + [f'neck.lateral_convs.{i}.conv' for i in range(4)
         ] + [f'neck.fpn_convs.{i}.conv' for i in range(4)]
    assert sorted(binary) == sorted(expected)
    assert all(layer.precision == 'real' and layer.bops == 0
               for layer in result.layers if layer.name not in expected)
    assert result.input_shape == (1, 3, 64, 64)
    assert result.num_proposals == 100  # demo test_cfg.rpn.max_per_img
    layers = {layer.name: layer for layer in result.layers}
    # 64x64 input -> stride-2 stem -> max-pool: layer1 runs at 16x16;
    # each output element of a 64->64 3x3 conv is 64*9 binary MACs
    assert layers['backbone.layer1.0.conv1'].bops == 64 * 16 * 16 * 64 * 9
    assert layers['rpn_head.rpn_conv'].calls == 5  # one call per FPN level
    # shared FC 1: 100 RoIs x 1024 outputs x 256*7*7 inputs (demo head)
    fc = layers['roi_head.bbox_head.shared_fcs.0']
    assert fc.flops == 100 * 256 * (256 * 7 * 7)
    assert result.flops > 0 and result.bops > 0
    _, model = build_model_from_config(DEMO_STE)
    assert result.binary_params == sum(
        m.weight.numel() for m in model.modules()
        if isinstance(m, BinaryConv) and m.binarize_weight)
    assert result.binary_params + result.real_params - sum(
        m.out_channels for m in model.modules()
        if isinstance(m, BinaryConv) and m.binarize_weight) == sum(
            p.numel() for p in model.parameters())


def test_default_shape_from_test_pipeline():
    from mmengine.config import Config
    voc = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/faster_rcnn_r18_ste_voc.py'))
    coco = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/faster_rcnn_r18_surge_coco.py'))
    assert default_input_shape(Config.fromfile(DEMO_STE)) == (128, 128)
    assert default_input_shape(voc) == (600, 1000)
    assert default_input_shape(coco) == (800, 1333)


def test_bad_arguments(mmdet_scope):
    with pytest.raises(ValueError, match='shape must be'):
        config_complexity(DEMO_STE, shape=(0, 64))
    with pytest.raises(ValueError, match='num_proposals must be'):
        config_complexity(DEMO_STE, shape=(64, 64), num_proposals=0)


def test_cli_writes_json(tmp_path, monkeypatch, capsys, mmdet_scope):
    out = tmp_path / 'cx.json'
    monkeypatch.setattr(sys, 'argv', [
        'complexity.py', DEMO_STE, '--shape', '64', '96', '--proposals', '7',
        '--out', str(out)
    ])
    runpy.run_path(
        osp.join(REPO_ROOT, 'tools/analysis_tools/complexity.py'),
        run_name='__main__')
    printed = capsys.readouterr().out
    assert 'backbone.layer4.1.conv2' in printed and 'deploy size' in printed
    report = json.loads(out.read_text())
    assert report['input_shape'] == [1, 3, 64, 96]
    assert report['num_proposals'] == 7
    totals = report['totals']
    assert totals['bops'] == sum(layer['bops'] for layer in report['layers'])
    assert totals['ops'] == totals['bops'] / 64 + totals['flops']
    fc = next(layer for layer in report['layers']
              if layer['name'] == 'roi_head.bbox_head.shared_fcs.0')
    assert fc['flops'] == 7 * 256 * (256 * 7 * 7)
