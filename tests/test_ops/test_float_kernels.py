# Copyright (c) mmbnn contributors. All rights reserved.
"""The extension's float kernels (max-pool, average RoIAlign, RPReLU)
against torch's and mmcv's own operations."""
import pytest
import torch
import torch.nn.functional as F

from mmbnn.ops import float_kernels as fk
from mmbnn.ops import xnor

pytestmark = pytest.mark.skipif(not xnor.is_available(),
                                reason='the XNOR kernel is not built')


def test_xnor_names_the_same_functions():
    for name in fk.__all__:
        assert getattr(xnor, name) is getattr(fk, name)


@pytest.mark.parametrize('geometry', [(3, 2, 1, False), (3, 2, 1, True),
                                      (2, 2, 0, True), (2, 2, 0, False),
                                      (3, 1, 1, False), (2, 1, 0, True),
                                      ((3, 2), (2, 1), (1, 0), True)])
def test_max_pool_equals_torch(geometry):
    kernel, stride, padding, ceil_mode = geometry
    gen = torch.Generator().manual_seed(0)
    for shape in [(2, 3, 9, 11), (1, 5, 8, 8), (1, 2, 3, 2)]:
        # ties and zeros of both signs: the max is order-free on them
        x = torch.randint(-3, 4, shape, generator=gen).float() * 0.5
        x[0, 0, 0, 0] = -0.0
        expected = F.max_pool2d(x, kernel, stride, padding,
                                ceil_mode=ceil_mode)
        got = fk.max_pool2d(x, kernel, stride, padding, ceil_mode)
        assert got.shape == expected.shape
        assert torch.equal(got, expected), (geometry, shape)
        y = torch.randn(shape, generator=gen)
        assert torch.equal(fk.max_pool2d(y, kernel, stride, padding,
                                         ceil_mode),
                           F.max_pool2d(y, kernel, stride, padding,
                                        ceil_mode=ceil_mode))


def test_max_pool_propagates_nan_and_checks_arguments():
    x = torch.randn(1, 2, 6, 6)
    x[0, 1, 2, 3] = float('nan')
    expected = F.max_pool2d(x, 3, 2, 1)
    got = fk.max_pool2d(x, 3, 2, 1)
    assert torch.equal(got.isnan(), expected.isnan())
    assert got.isnan().any()
    assert torch.equal(got.nan_to_num(), expected.nan_to_num())
    with pytest.raises(ValueError, match='padding'):
        fk.max_pool2d(x, 2, 2, 2)
    with pytest.raises(ValueError, match='float32'):
        fk.max_pool2d(x.double(), 2)


@pytest.mark.parametrize('sampling_ratio', [0, 1, 2])
@pytest.mark.parametrize('aligned', [True, False])
def test_roi_align_equals_mmcv(sampling_ratio, aligned):
    from mmcv.ops import roi_align
    gen = torch.Generator().manual_seed(sampling_ratio)
    feat = torch.randn(2, 19, 25, 33, generator=gen)
    k = 120
    xy = torch.rand(k, 2, generator=gen) * torch.tensor([33 * 8., 25 * 8.])
    wh = torch.rand(k, 2, generator=gen) * 150
    rois = torch.cat([torch.randint(0, 2, (k, 1), generator=gen).float(),
                      xy - 20, xy - 20 + wh], 1)
    rois[0, 1:] = torch.tensor([5., 5., 5., 5.])  # empty box
    rois[1, 1:] = torch.tensor([-50., -50., -10., -10.])  # outside the map
    rois[2, 1:] = torch.tensor([250., 180., 400., 300.])  # past the border
    expected = roi_align(feat, rois, (7, 7), 1 / 8., sampling_ratio, 'avg',
                         aligned)
    got = fk.roi_align(feat, rois, 7, 1 / 8., sampling_ratio, aligned)
    assert torch.equal(got, expected)
    assert got.abs().sum() > 0


def test_roi_align_errors():
    feat = torch.randn(1, 4, 8, 8)
    with pytest.raises(ValueError, match='batch indices'):
        fk.roi_align(feat, torch.tensor([[1., 0, 0, 4, 4]]), 2, 1.0)
    with pytest.raises(ValueError, match='non-negative'):
        fk.roi_align(feat, torch.tensor([[0., 4, 4, 0, 0]]), 2, 1.0)
    with pytest.raises(ValueError, match=r'\(K, 5\)'):
        fk.roi_align(feat, torch.zeros(3, 4), 2, 1.0)


def test_rprelu_equals_torch():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 6, 9, 11, generator=gen)
    x[0, 0, 0, :3] = torch.tensor([0.0, -0.0, 1e-40])
    slope = torch.rand(6, generator=gen) - 0.3
    shift_in, shift_out = (torch.randn(6, generator=gen) for _ in range(2))
    expected = F.prelu(x - shift_in.view(1, -1, 1, 1), slope) + \
        shift_out.view(1, -1, 1, 1)
    assert torch.equal(fk.rprelu(x, slope, shift_in, shift_out), expected)
    assert torch.equal(fk.rprelu(x, slope), F.prelu(x, slope))
    with pytest.raises(ValueError, match='slope must have'):
        fk.rprelu(x, torch.zeros(5))
