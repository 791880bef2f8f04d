# Copyright (c) mmbnn contributors. All rights reserved.
"""A classification checkpoint initializes a detector's backbone with every
key (BinaryPretrained): the detector's backbone features equal the
classifier's; missing, unexpected and mis-shaped keys, and an unfinished
StoMPP schedule, are errors naming them; SURGE / StoMPP training state is
dropped on purpose."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmbnn.models import load_binary_backbone

from ..conftest import REPO_ROOT

CONFIGS = osp.join(REPO_ROOT, 'configs')
PAIRS = [
    ('cls/glyph_cls/resnet18_ste_glyph_cls.py',
     'bench/faster_rcnn_resnet18_w32_ste_glyphcls_bench.py'),
    ('cls/glyph_cls/resnet18_fp_glyph_cls.py',
     'bench/faster_rcnn_resnet18_w32_ste_glyphclsfp_bench.py'),
    ('cls/glyph_cls/bireal18_ste_glyph_cls.py',
     'bench/faster_rcnn_r18_w32_ste_glyphcls_bench.py'),
]


def _cfg(path):
    return Config.fromfile(osp.join(CONFIGS, path))


def _trained_like(model, seed=0):
    """Random values everywhere (BN statistics included), so that a key
    left at its init would show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.copy_(torch.rand(value.shape, generator=gen) + 0.5)
    return model


def _save(model, path):
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return str(path)


@pytest.mark.parametrize('cls_config,det_config', PAIRS)
def test_classifier_checkpoint_initializes_the_detector(
        cls_config, det_config, tmp_path, mmdet_scope):
    from mmdet.registry import MODELS
    classifier = _trained_like(MODELS.build(_cfg(cls_config).model))
    ckpt = _save(classifier, tmp_path / 'cls.pth')
    det_cfg = _cfg(det_config)
    det_cfg.model.backbone.init_cfg.checkpoint = ckpt
    detector = MODELS.build(det_cfg.model)
    detector.init_weights()
    ours = detector.backbone.state_dict()
    theirs = classifier.backbone.state_dict()
    assert set(ours) == set(theirs)
    for key, value in theirs.items():
        assert torch.equal(ours[key], value), key
    if '_fp_' in cls_config:
        return  # real convs and ReLU: the same weights, another function
    classifier.eval()
    detector.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(detector.backbone(x)[-1],
                           classifier.extract_feat(x)[-1])


def _classifier(rule, mmdet_scope=None):
    from mmdet.registry import MODELS
    cfg = _cfg(f'cls/glyph_cls/resnet18_{rule}_glyph_cls.py')
    return MODELS.build(cfg.model)


def test_errors_name_the_keys(tmp_path, mmdet_scope):
    classifier = _classifier('ste')
    target = _classifier('ste').backbone
    state = classifier.state_dict()
    path = tmp_path / 'x.pth'
    for change, pattern in (
            (lambda s: s.pop('backbone.layer2.1.conv2.weight'),
             'missing in the checkpoint: layer2.1.conv2.weight'),
            (lambda s: s.__setitem__('backbone.layer9.weight',
                                     torch.zeros(1)),
             r'unexpected \(not in the model\): layer9.weight'),
            (lambda s: s.__setitem__('backbone.conv1.weight',
                                     torch.zeros(32, 3, 3, 3)),
             r'shape mismatch: conv1.weight \(32, 3, 3, 3\) != '
             r'\(32, 3, 7, 7\)')):
        broken = dict(state)
        change(broken)
        torch.save(dict(state_dict=broken), path)
        with pytest.raises(RuntimeError, match=pattern):
            load_binary_backbone(target, str(path))
    with pytest.raises(KeyError, match="prefix='neck.'"):
        load_binary_backbone(target, str(path), prefix='neck.')


def test_rule_state_is_handled_on_purpose(tmp_path, mmdet_scope):
    """SURGE's branch is dropped; StoMPP's must be finished, then is
    dropped; a StoMPP or SURGE target keeps its own training state."""
    surge = _trained_like(_classifier('surge'))
    ste = _classifier('ste').backbone
    load_binary_backbone(ste, _save(surge, tmp_path / 'surge.pth'))
    assert torch.equal(ste.layer1[0].conv1.weight,
                       surge.backbone.layer1[0].conv1.weight)

    stompp = _classifier('stompp')  # a fresh build: p = 1, finished
    load_binary_backbone(ste, _save(stompp, tmp_path / 'done.pth'))
    stompp.backbone.layer3[0].conv2.progressive.p_act.fill_(0.5)
    path = _save(stompp, tmp_path / 'unfinished.pth')
    with pytest.raises(RuntimeError, match='did not finish.*layer3.0.conv2'):
        load_binary_backbone(ste, path)
    load_binary_backbone(ste, path, allow_unfinished=True)

    target = _classifier('stompp_surge').backbone
    own = {k: v.clone() for k, v in target.state_dict().items()
           if '.progressive.' in k or '.compensator.' in k}
    load_binary_backbone(target, _save(_classifier('ste'),
                                       tmp_path / 'ste.pth'))
    after = target.state_dict()
    assert own and all(torch.equal(after[k], v) for k, v in own.items())
