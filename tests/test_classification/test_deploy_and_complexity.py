# Copyright (c) mmbnn contributors. All rights reserved.
"""A binary classifier exports to the packed deploy format (plain and
fused) and predicts as the trained model; the complexity report counts its
binarized convs at the config's input size."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmbnn.analysis.complexity import config_complexity
from mmbnn.deploy import export_deploy_checkpoint, load_deploy_model

from ..conftest import REPO_ROOT

GLYPH = osp.join(REPO_ROOT, 'configs', 'cls', 'glyph_cls')


def _trained(config, path):
    from mmdet.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    with torch.no_grad():  # BN statistics away from their init
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return model.eval()


@pytest.mark.parametrize('name', ['resnet18_ste', 'bireal18_ste'])
@pytest.mark.parametrize('fuse', [False, True])
def test_deploy_export_predicts_as_trained(name, fuse, tmp_path,
                                           mmdet_scope):
    config = osp.join(GLYPH, f'{name}_glyph_cls.py')
    model = _trained(config, tmp_path / 'cls.pth')
    out = str(tmp_path / 'deploy.pth')
    export_deploy_checkpoint(config, str(tmp_path / 'cls.pth'), out,
                             fuse=fuse)
    gen = torch.Generator().manual_seed(1)
    images = list((torch.rand(4, 3, 32, 32, generator=gen) * 255))
    inputs = model.data_preprocessor(dict(inputs=images), False)['inputs']
    with torch.no_grad():
        expected = model(inputs)
        for backend in ('reference', 'kernel'):
            deploy = load_deploy_model(out, device='cpu',
                                       backend=backend).eval()
            got = deploy(inputs)
            torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
            assert torch.equal(got.argmax(1), expected.argmax(1))


def test_complexity_of_a_classifier(mmdet_scope):
    result = config_complexity(osp.join(GLYPH, 'resnet50_ste_glyph_cls.py'))
    binary = [layer for layer in result.layers
              if layer.precision == 'binary']
    assert len(binary) == 48
    assert result.input_shape == (1, 3, 64, 64)  # the configs' 64 px crop
    # a 1x1 binary conv at 16x16 (layer1.0.conv1: 32 -> 32 channels)
    first = next(layer for layer in binary
                 if layer.name == 'backbone.layer1.0.conv1')
    assert first.bops == 32 * 32 * 16 * 16 and first.flops == 0
    fc = next(layer for layer in result.layers if layer.name == 'fc')
    assert fc.precision == 'real' and fc.flops == 1024 * 32
