# Copyright (c) mmbnn contributors. All rights reserved.
"""The packed kernel's fused epilogue (residual add, RPReLU / PReLU) and its
max-pool, against torch's own operations, on every SIMD path."""
import pytest
import torch
import torch.nn.functional as F

from mmbnn.ops import hard_sign, xnor

pytestmark = pytest.mark.skipif(not xnor.is_available(),
                                reason='the XNOR kernel is not built')

# (C, O, kernel, stride, padding, N, H, W): one and several weight blocks,
# odd widths (the AVX-512 path's unpaired last position), strided borders
SHAPES = [(64, 64, 3, 1, 1, 2, 9, 7), (65, 20, 3, 2, 1, 1, 11, 13),
          (130, 8, 1, 1, 0, 1, 5, 16), (16, 512, 3, 1, 1, 1, 7, 7)]


@pytest.fixture(params=xnor.supported_simd_paths() if xnor.is_available()
                else ['scalar'])
def simd(request, monkeypatch):
    monkeypatch.setenv(xnor.SIMD_ENV, request.param)
    return request.param


def _layer(shape, seed=0):
    c, o, k, s, p, n, h, w = shape
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=gen)
    packed = xnor.pack_weight(hard_sign(torch.randn(o, c, k, k,
                                                    generator=gen)))
    scale = torch.rand(o, generator=gen) + 0.5
    bias = torch.randn(o, generator=gen)
    kwargs = dict(in_channels=c, out_channels=o, kernel_size=k, stride=s,
                  padding=p, scale=scale, bias=bias)
    return x, packed, kwargs, gen


@pytest.mark.parametrize('shape', SHAPES)
def test_epilogue_is_torch_bit_for_bit(shape, simd):
    x, packed, kwargs, gen = _layer(shape)
    plain = xnor.binary_conv2d(x, packed, **kwargs)
    o = plain.shape[1]
    residual = torch.randn(plain.shape, generator=gen)
    shift_in, shift_out = (torch.randn(o, generator=gen) for _ in range(2))
    # negative slopes too: the branch is on the sign of the shifted value
    slope = torch.rand(o, generator=gen) - 0.3
    cases = {
        'residual': (dict(residual=residual), plain + residual),
        'prelu': (dict(act_slope=slope), F.prelu(plain, slope)),
        'shift_in only': (dict(act_slope=slope, act_shift_in=shift_in),
                          F.prelu(plain - shift_in.view(1, -1, 1, 1), slope)),
        'shift_out only': (
            dict(act_slope=slope, act_shift_out=shift_out),
            F.prelu(plain, slope) + shift_out.view(1, -1, 1, 1)),
        'residual+rprelu': (
            dict(residual=residual, act_shift_in=shift_in, act_slope=slope,
                 act_shift_out=shift_out),
            F.prelu(plain + residual - shift_in.view(1, -1, 1, 1), slope) +
            shift_out.view(1, -1, 1, 1)),
    }
    if o % 4 == 0:  # a residual with fewer channels, repeated
        few = torch.randn(plain.shape[0], o // 4, *plain.shape[2:],
                          generator=gen)
        cases['repeated residual'] = (dict(residual=few),
                                      plain + few.repeat(1, 4, 1, 1))
    for name, (extra, expected) in cases.items():
        got = xnor.binary_conv2d(x, packed, **kwargs, **extra)
        assert torch.equal(got, expected), (name, simd)
    # the epilogue changed the values: the comparison is not vacuous
    assert not torch.equal(cases['residual+rprelu'][1], plain)


def test_epilogue_argument_errors():
    x, packed, kwargs, _ = _layer(SHAPES[0])
    o = kwargs['out_channels']
    with pytest.raises(ValueError, match='act_slope'):
        xnor.binary_conv2d(x, packed, **kwargs, act_shift_in=torch.zeros(o))
    with pytest.raises(ValueError, match='residual must be'):
        xnor.binary_conv2d(x, packed, **kwargs,
                           residual=torch.zeros(1, o, 2, 2))
    with pytest.raises(ValueError, match='residual must be'):  # 64 % 3 != 0
        xnor.binary_conv2d(x, packed, **kwargs,
                           residual=torch.zeros(2, 3, 9, 7))
    with pytest.raises(ValueError, match='act_slope must have'):
        xnor.binary_conv2d(x, packed, **kwargs, act_slope=torch.zeros(o + 1))


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
        got = xnor.max_pool2d(x, kernel, stride, padding, ceil_mode)
        assert got.shape == expected.shape
        assert torch.equal(got, expected), (geometry, shape)
        y = torch.randn(shape, generator=gen)
        assert torch.equal(xnor.max_pool2d(y, kernel, stride, padding,
                                           ceil_mode),
                           F.max_pool2d(y, kernel, stride, padding,
                                        ceil_mode=ceil_mode))


def test_max_pool_propagates_nan_and_checks_arguments():
    x = torch.randn(1, 2, 6, 6)
    x[0, 1, 2, 3] = float('nan')
    expected = F.max_pool2d(x, 3, 2, 1)
    got = xnor.max_pool2d(x, 3, 2, 1)
    assert torch.equal(got.isnan(), expected.isnan())
    assert got.isnan().any()
    assert torch.equal(got.nan_to_num(), expected.nan_to_num())
    with pytest.raises(ValueError, match='padding'):
        xnor.max_pool2d(x, 2, 2, 2)
    with pytest.raises(ValueError, match='float32'):
        xnor.max_pool2d(x.double(), 2)


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
    got = xnor.roi_align(feat, rois, 7, 1 / 8., sampling_ratio, aligned)
    assert torch.equal(got, expected)
    assert got.abs().sum() > 0


def test_roi_align_errors():
    feat = torch.randn(1, 4, 8, 8)
    with pytest.raises(ValueError, match='batch indices'):
        xnor.roi_align(feat, torch.tensor([[1., 0, 0, 4, 4]]), 2, 1.0)
    with pytest.raises(ValueError, match='non-negative'):
        xnor.roi_align(feat, torch.tensor([[0., 4, 4, 0, 0]]), 2, 1.0)
    with pytest.raises(ValueError, match=r'\(K, 5\)'):
        xnor.roi_align(feat, torch.zeros(3, 4), 2, 1.0)


def test_rprelu_equals_torch():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 6, 9, 11, generator=gen)
    x[0, 0, 0, :3] = torch.tensor([0.0, -0.0, 1e-40])
    slope = torch.rand(6, generator=gen) - 0.3
    shift_in, shift_out = (torch.randn(6, generator=gen) for _ in range(2))
    expected = F.prelu(x - shift_in.view(1, -1, 1, 1), slope) + \
        shift_out.view(1, -1, 1, 1)
    assert torch.equal(xnor.rprelu(x, slope, shift_in, shift_out), expected)
    assert torch.equal(xnor.rprelu(x, slope), F.prelu(x, slope))
    with pytest.raises(ValueError, match='slope must have'):
        xnor.rprelu(x, torch.zeros(5))
