# Copyright (c) mmbnn contributors. All rights reserved.
"""SeparateClipOptimWrapper: SURGE's training-only W_a do not shrink the
clipped step of the shared parameters; without them it is OptimWrapper."""
import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmbnn.engine import SeparateClipOptimWrapper, is_training_only
from mmbnn.ops import BinaryConv


def _net(surge: bool):
    torch.manual_seed(0)
    comp = dict(type='SURGE') if surge else None
    return nn.Sequential(
        BinaryConv(4, 8, 3, padding=1, compensator=comp), nn.BatchNorm2d(8),
        BinaryConv(8, 8, 3, padding=1, compensator=comp))


def _step(net, wrapper_cls, x):
    wrapper = wrapper_cls(torch.optim.SGD(net.parameters(), lr=1.0),
                          clip_grad=dict(max_norm=0.01, norm_type=2))
    net.train()
    loss = net(x).square().mean() * 100
    wrapper.update_params(loss)
    return wrapper


def test_training_only_gradients_do_not_change_the_shared_step():
    """The shared parameters move as if W_a had no gradient at all; under
    the global clip, W_a's gradient shrinks their step."""
    x = torch.randn(2, 4, 6, 6)
    separate, reference, glob = _net(True), _net(True), _net(True)
    aux = [p for p in separate.parameters() if is_training_only(p)]
    assert len(aux) == 2  # one W_a per SURGE conv
    for p in reference.parameters():
        if is_training_only(p):
            p.requires_grad_(False)
    hub = _step(separate, SeparateClipOptimWrapper, x).message_hub
    _step(reference, OptimWrapper, x)
    _step(glob, OptimWrapper, x)
    assert 'train/grad_norm_training_only' in hub.log_scalars
    shared = [n for n, p in separate.named_parameters()
              if not is_training_only(p)]
    for name in shared:
        torch.testing.assert_close(separate.get_parameter(name),
                                   reference.get_parameter(name))
    assert not all(
        torch.allclose(glob.get_parameter(n), reference.get_parameter(n))
        for n in shared)


def test_equals_optim_wrapper_without_training_only_parameters():
    x = torch.randn(2, 4, 6, 6)
    a, b = _net(False), _net(False)
    _step(a, SeparateClipOptimWrapper, x)
    _step(b, OptimWrapper, x)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_amp_keeps_the_separate_clipping(tmp_path):
    """``--amp`` turns SeparateClipOptimWrapper into its AMP form."""
    import os.path as osp

    from mmbnn.apis import build_runner

    from ..conftest import REPO_ROOT
    config = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_surge_demo.py')
    runner = build_runner(config, 'train', amp=True, work_dir=str(tmp_path))
    assert runner.cfg.optim_wrapper.type == 'SeparateClipAmpOptimWrapper'
    assert runner.cfg.optim_wrapper.loss_scale == 'dynamic'
