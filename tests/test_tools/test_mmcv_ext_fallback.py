# Copyright (c) mmbnn contributors. All rights reserved.
"""tools/gpu/mmcv_ext_fallback.py (the torchvision stand-in for mmcv's
compiled nms / roi_align of ``tools/gpu_check.sh --mmcv-ops-fallback``)
against references: a greedy NMS written out, mmcv's own RoIAlign values
(as replicated by mmbnn's CPU kernel), and autograd of its backward."""
import importlib.util
import os.path as osp

import pytest
import torch

from ..conftest import REPO_ROOT

torchvision = pytest.importorskip(
    'torchvision', reason='the fallback runs on torchvision.ops')


@pytest.fixture(scope='module')
def fallback():
    path = osp.join(REPO_ROOT, 'tools/gpu/mmcv_ext_fallback.py')
    spec = importlib.util.spec_from_file_location('mmcv_ext_fallback', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _greedy_nms(boxes, scores, thr, offset):
    order = scores.argsort(descending=True).tolist()
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1 + offset) * (y2 - y1 + offset)
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        rest = []
        for j in order:
            w = (torch.min(x2[i], x2[j]) - torch.max(x1[i], x1[j]) + offset)
            h = (torch.min(y2[i], y2[j]) - torch.max(y1[i], y1[j]) + offset)
            inter = w.clamp(min=0) * h.clamp(min=0)
            if inter / (area[i] + area[j] - inter) <= thr:
                rest.append(j)
        order = rest
    return keep


@pytest.mark.parametrize('offset', [0, 1])
def test_nms_matches_greedy_reference(fallback, offset):
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=g) * 20], 1)
    scores = torch.rand(60, generator=g)
    keep = fallback.nms(boxes, scores, 0.5, offset=offset)
    assert keep.tolist() == _greedy_nms(boxes, scores, 0.5, offset)
    with pytest.raises(ValueError, match='offset must be 0 or 1'):
        fallback.nms(boxes, scores, 0.5, offset=2)


def _rois(g, n=12, size=64):
    xy = torch.rand(n, 2, generator=g) * size * 0.7
    wh = 2 + torch.rand(n, 2, generator=g) * size * 0.4
    batch = torch.randint(0, 2, (n, 1), generator=g).float()
    return torch.cat([batch, xy, xy + wh], 1)


def test_roi_align_forward_matches_mmcv_values(fallback):
    from mmbnn.ops import xnor
    if not xnor.is_available():
        pytest.skip(f'mmbnn kernel not built: {xnor.import_error()}')
    g = torch.Generator().manual_seed(1)
    features = torch.randn(2, 8, 16, 16, generator=g)
    rois = _rois(g)
    for ratio in (0, 2):
        out = torch.empty(12, 8, 7, 7)
        fallback.roi_align_forward(features, rois, out, None, None, 7, 7,
                                   0.25, ratio, 1, True)
        expected = xnor.roi_align(features, rois, 7, 0.25, ratio, True)
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_roi_align_backward_is_the_vjp(fallback):
    g = torch.Generator().manual_seed(2)
    features = torch.randn(2, 4, 16, 16, generator=g, dtype=torch.float64,
                           requires_grad=True)
    rois = _rois(g).double()
    grad_out = torch.randn(12, 4, 7, 7, generator=g, dtype=torch.float64)
    out = torchvision.ops.roi_align(features, rois, (7, 7), 0.25, 2, True)
    expected, = torch.autograd.grad(out, features, grad_out)
    grad_in = torch.zeros_like(features)
    fallback.roi_align_backward(grad_out, rois, None, None, grad_in, 7, 7,
                                0.25, 2, 1, True)
    torch.testing.assert_close(grad_in, expected)
    with pytest.raises(NotImplementedError, match="pool_mode='avg' only"):
        fallback.roi_align_backward(grad_out, rois, None, None, grad_in, 7,
                                    7, 0.25, 2, 0, True)
    with pytest.raises(NotImplementedError, match="'deform_conv_forward'"):
        fallback.deform_conv_forward()


def test_roi_align_takes_bfloat16(fallback):
    """AMP with bfloat16 feeds bfloat16 features; torchvision has no such
    kernel, so the fallback pools in float32 and returns bfloat16."""
    g = torch.Generator().manual_seed(3)
    features = torch.randn(2, 4, 16, 16, generator=g)
    rois = _rois(g)
    out = torch.empty(12, 4, 7, 7, dtype=torch.bfloat16)
    fallback.roi_align_forward(features.bfloat16(), rois, out, None, None, 7,
                               7, 0.25, 2, 1, True)
    expected = torchvision.ops.roi_align(features.bfloat16().float(), rois,
                                         (7, 7), 0.25, 2, True)
    torch.testing.assert_close(out, expected.bfloat16())
