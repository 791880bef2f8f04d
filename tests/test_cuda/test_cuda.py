# Copyright (c) mmbnn contributors. All rights reserved.
"""The CUDA path: binary convs, SURGE and StoMPP on a GPU against the CPU,
AMP training steps, no host synchronisation per step, and the deploy model
on CUDA. Marked ``cuda``; skipped (with the reason) where CUDA is absent.
``tools/gpu_check.sh`` runs them on a GPU machine."""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch
from torch import nn

from mmbnn.ops import BinaryConv
from mmbnn.ops.binarizers import SURROGATE_GRADIENTS
from mmbnn.stompp import StoMPPMasking
from mmbnn.surge import SURGECompensator

from ..conftest import REPO_ROOT

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='CUDA is not available'),
]
# float32 convs on both sides: no TF32 on the GPU
TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(autouse=True)
def no_tf32():
    old = (torch.backends.cudnn.allow_tf32,
           torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    (torch.backends.cudnn.allow_tf32,
     torch.backends.cuda.matmul.allow_tf32) = old


def _inputs(seed=0, shape=(2, 8, 12, 12)):
    g = torch.Generator().manual_seed(seed)
    # values away from 0 and +-1, where sign and the surrogates' kinks sit:
    # a last-ulp difference between devices cannot flip a branch there
    x = torch.randn(shape, generator=g)
    x = torch.where(x.abs() < 0.05, x + 0.1, x)
    return torch.where((x.abs() - 1).abs() < 0.05, x * 1.1, x)


def _grads(module, x, out_grad):
    x = x.clone().requires_grad_()
    out = module(x)
    out.backward(out_grad)
    grads = {n: p.grad.detach().cpu() for n, p in module.named_parameters()
             if p.grad is not None}
    return out.detach().cpu(), x.grad.detach().cpu(), grads


@pytest.mark.parametrize('surrogate', sorted(SURROGATE_GRADIENTS))
@pytest.mark.parametrize('scaling', ['mean_abs', 'learnable', 'none'])
def test_binary_conv_on_cuda_equals_cpu(surrogate, scaling):
    torch.manual_seed(0)
    conv = BinaryConv(8, 16, 3, padding=1, weight_surrogate=surrogate,
                      act_surrogate=surrogate, weight_scaling=scaling,
                      act_threshold=True)
    with torch.no_grad():
        conv.weight.copy_(_inputs(1, conv.weight.shape) * 0.5)
        conv.threshold.uniform_(-0.02, 0.02)
    x, g = _inputs(2), _inputs(3, (2, 16, 12, 12))
    cpu = _grads(conv, x, g)
    gpu = _grads(copy.deepcopy(conv).cuda(), x.cuda(), g.cuda())
    torch.testing.assert_close(gpu[0], cpu[0], **TOL)
    torch.testing.assert_close(gpu[1], cpu[1], **TOL)
    assert gpu[2].keys() == cpu[2].keys() and 'weight' in cpu[2]
    for name in cpu[2]:
        torch.testing.assert_close(gpu[2][name], cpu[2][name], **TOL,
                                   msg=lambda m, n=name: f'{n}: {m}')


@pytest.mark.parametrize('aux_weight', ['separate', 'latent'])
def test_surge_gradients_and_lambda_on_cuda_equal_cpu(aux_weight):
    torch.manual_seed(0)
    conv = BinaryConv(8, 16, 3, padding=1, compensator=dict(
        type='SURGE', eta=0.5, aux_weight=aux_weight))
    conv.train()
    x, g = _inputs(4), _inputs(5, (2, 16, 12, 12))
    cpu = _grads(conv, x, g)
    gpu_conv = copy.deepcopy(conv).cuda()
    gpu = _grads(gpu_conv, x.cuda(), g.cuda())
    for a, b in zip(gpu[:2], cpu[:2]):
        torch.testing.assert_close(a, b, **TOL)
    for name in cpu[2]:
        torch.testing.assert_close(gpu[2][name], cpu[2][name], **TOL)
    for buf in ('last_lambda', 'grad_norm_binary', 'grad_norm_aux'):
        a = getattr(gpu_conv.compensator, buf).cpu()
        b = getattr(conv.compensator, buf)
        assert float(b) > 0
        torch.testing.assert_close(a, b, rtol=1e-4, atol=0)
    # forward value: the binary path, bit for bit
    with torch.no_grad():
        expected = gpu_conv.binary_forward(x.cuda())
    torch.testing.assert_close(gpu[0], expected.cpu(), rtol=0, atol=0)


MASK_SCRIPT = r'''
import sys, torch
from mmbnn.stompp import StoMPPMasking
state = torch.load(sys.argv[1])
m = StoMPPMasking((16, 8, 3, 3), refresh_rate=10).cuda()
m.load_state_dict(state)
masks = []
for step in range(5):
    m.set_state(step, 0.5, 0.5, seed=7, layer_index=3)
    m.refresh()
    masks.append(m.weight_mask().cpu())
torch.save(torch.stack(masks), sys.argv[2])
'''


def _weight_masks(module, steps=5):
    masks = []
    for step in range(steps):
        module.set_state(step, 0.5, 0.5, seed=7, layer_index=3)
        module.refresh()
        masks.append(module.weight_mask().cpu())
    return torch.stack(masks)


def test_stompp_masks_on_cuda_reproduce_on_resume_and_across_processes(
        tmp_path):
    torch.manual_seed(0)
    first = StoMPPMasking((16, 8, 3, 3), refresh_rate=10).cuda()
    initial = copy.deepcopy(first.state_dict())
    masks = _weight_masks(first)
    assert 0.3 < masks.float().mean() < 0.7
    assert not torch.equal(masks[0], masks[-1])  # refresh moves scores
    # a resumed run: state of step 2 loaded into a fresh module
    replay = StoMPPMasking((16, 8, 3, 3), refresh_rate=10).cuda()
    replay.load_state_dict(initial)
    for step in range(2):
        replay.set_state(step, 0.5, 0.5, seed=7, layer_index=3)
        replay.refresh()
    resumed = StoMPPMasking((16, 8, 3, 3), refresh_rate=10).cuda()
    resumed.load_state_dict(replay.state_dict())
    tail = []
    for step in range(2, 5):
        resumed.set_state(step, 0.5, 0.5, seed=7, layer_index=3)
        resumed.refresh()
        tail.append(resumed.weight_mask().cpu())
    assert torch.equal(torch.stack(tail), masks[2:])
    # another process (another rank) draws the same weight masks
    torch.save(initial, tmp_path / 'state.pth')
    subprocess.run([
        sys.executable, '-c', MASK_SCRIPT,
        str(tmp_path / 'state.pth'),
        str(tmp_path / 'masks.pth')
    ], check=True, cwd=REPO_ROOT, timeout=300)
    assert torch.equal(torch.load(tmp_path / 'masks.pth'), masks)
    # activation masks: same step and call -> same mask
    x = _inputs(6).cuda()
    a, b = (StoMPPMasking((16, 8, 3, 3)).cuda().train() for _ in range(2))
    for m in (a, b):
        m.set_state(3, 0.5, 0.5, seed=7, layer_index=1)
    assert torch.equal(a.binarize_act(x), b.binarize_act(x))


AMP_CONFIGS = {
    'STE': 'configs/bench/faster_rcnn_r18_ste_bench.py',
    'SURGE': 'configs/bench/faster_rcnn_r18_surge_bench.py',
    'StoMPP': 'configs/bench/faster_rcnn_r18_stompp_bench.py',
    'StoMPP+SURGE': 'configs/bench/faster_rcnn_r18_stompp_surge_bench.py',
}


def _amp_dtypes():
    dtypes = ['float16']
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        dtypes.append('bfloat16')
    return dtypes


@pytest.mark.parametrize('dtype', _amp_dtypes())
@pytest.mark.parametrize('name', sorted(AMP_CONFIGS))
def test_amp_training_steps(name, dtype, mmdet_scope):
    """A few ``--amp`` steps (mmengine's AmpOptimWrapper): finite losses
    and lambdas, and SURGE's forward still the binary path."""
    from mmengine.config import Config
    from mmengine.optim import AmpOptimWrapper
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    cfg = Config.fromfile(osp.join(REPO_ROOT, AMP_CONFIGS[name]))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).cuda()
    model.init_weights()
    model.train()
    masks = [m for m in model.modules() if isinstance(m, StoMPPMasking)]
    for i, m in enumerate(masks):  # mid-schedule: partly frozen layers
        m.set_state(1, 0.5, 0.5, seed=0, layer_index=i)
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.AdamW(model.parameters(), lr=1e-4),
        dtype=dtype)
    packed = demo_mm_inputs(2, [[3, 128, 128]] * 2, num_items=[3, 3],
                            num_classes=8)
    for _ in range(3):
        with wrapper.optim_context(model):
            data = model.data_preprocessor(packed, True)
            losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        assert torch.isfinite(loss), (name, dtype, losses)
        wrapper.update_params(loss)
    compensators = [m for m in model.modules()
                    if isinstance(m, SURGECompensator)]
    assert bool(compensators) == ('SURGE' in name)
    for c in compensators:
        assert torch.isfinite(c.last_lambda) and float(c.last_lambda) >= 0
    assert sum(float(c.last_lambda) > 0 for c in compensators) >= len(
        compensators) // 2
    if compensators:
        conv = next(m for m in model.modules()
                    if isinstance(m, BinaryConv) and m.compensator is not None
                    and m.in_channels == m.out_channels)
        x = torch.randn(2, conv.in_channels, 16, 16, device='cuda')
        rule = conv.progressive

        def same_masks():  # StoMPP draws per call: replay the same draw
            if rule is not None:
                rule.set_state(1, 0.5, 0.5, seed=0, layer_index=0)
        with torch.autocast('cuda', dtype=getattr(torch, dtype)):
            same_masks()
            compensated = conv(x.requires_grad_())
            same_masks()
            with torch.no_grad():
                binary = conv.binary_forward(x)
        assert compensated.dtype == binary.dtype
        torch.testing.assert_close(compensated, binary, rtol=0, atol=0)


class _SmallBinaryNet(nn.Module):

    def __init__(self, conv_cfg):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.convs = nn.ModuleList(
            BinaryConv(16, 16, 3, padding=1, **conv_cfg) for _ in range(3))
        self.bns = nn.ModuleList(nn.BatchNorm2d(16) for _ in range(3))

    def forward(self, x):
        x = self.stem(x)
        for conv, bn in zip(self.convs, self.bns):
            x = bn(conv(x)) + x
        return x.square().mean()


@pytest.mark.parametrize('rule', ['STE', 'SURGE', 'StoMPP', 'StoMPP+SURGE'])
def test_no_host_synchronisation_per_step(rule):
    """A training step of SURGE / StoMPP layers (hook updates included)
    makes no synchronising CUDA call."""
    conv_cfg = {}
    if 'SURGE' in rule:
        conv_cfg['compensator'] = dict(type='SURGE', eta=0.5)
    if 'StoMPP' in rule:
        conv_cfg['progressive'] = dict(type='StoMPP', ste_on_frozen='clipped')
    torch.manual_seed(0)
    model = _SmallBinaryNet(conv_cfg).cuda().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(4, 3, 16, 16, device='cuda')
    masks = [m for m in model.modules() if isinstance(m, StoMPPMasking)]

    def step(t):
        for i, m in enumerate(masks):  # what StoMPPHook does per iteration
            m.set_state(t, 0.5, 0.5, seed=0, layer_index=i)
            m.refresh()
        optimizer.zero_grad()
        model(x).backward()
        optimizer.step()

    step(0)  # first step: SURGE copies the latent weights once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        for t in range(1, 3):
            step(t)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    torch.cuda.synchronize()


def test_deploy_model_on_cuda_uses_the_float_reference(mmdet_scope):
    """On CUDA the packed convs run their float reference and give what the
    CPU kernel gives (layer by layer, same inputs)."""
    from mmengine.config import Config
    from mmdet.registry import MODELS

    from mmbnn.deploy import PackedBinaryConv, convert_to_deploy
    from mmbnn.ops import xnor
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/bench/faster_rcnn_r18_ste_bench.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    convert_to_deploy(model)
    gpu_model = copy.deepcopy(model).cuda()
    inputs = {}

    def record(name):
        def hook(module, args, out):
            inputs.setdefault(name, args[0].detach())
        return hook
    packed = {n: m for n, m in model.named_modules()
              if isinstance(m, PackedBinaryConv)}
    assert packed
    hooks = [m.register_forward_hook(record(n)) for n, m in packed.items()]
    with torch.no_grad():
        model.backbone(torch.randn(1, 3, 96, 96))
    for h in hooks:
        h.remove()
    gpu_modules = dict(gpu_model.named_modules())
    for name, x in inputs.items():
        with torch.no_grad():
            cpu_out = packed[name](x)
            gpu_out = gpu_modules[name](x.cuda()).cpu()
        torch.testing.assert_close(gpu_out, cpu_out, rtol=1e-4, atol=1e-3,
                                   msg=lambda m, n=name: f'{n}: {m}')
    if xnor.is_available():
        assert any(m.backend in ('auto', 'kernel') for m in packed.values())
