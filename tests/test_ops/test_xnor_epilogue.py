# Copyright (c) mmbnn contributors. All rights reserved.
"""The packed kernel's fused epilogue (residual add, RPReLU / PReLU)
against torch's own operations, on every SIMD path."""
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
