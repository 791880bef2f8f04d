# Copyright (c) mmbnn contributors. All rights reserved.
"""The packed XNOR-popcount kernel against the float computation of the same
binarized layer, on every SIMD path this CPU supports."""
import random
from typing import Optional

import pytest
import torch
import torch.nn.functional as F

from mmbnn.ops import BinaryConv, _ext, float_kernels, hard_sign, xnor

# (C, O, kernel, stride, padding, dilation, groups, N, H, W): channel counts
# around and across 64-bit words, borders wider than the kernel reach,
# strides and dilations that skip the last rows, groups whose channels
# straddle the kernel's 8-channel weight blocks (O / groups = 3, 5, 6, ...),
# larger inputs (many rows and tiles per row)
SHAPES = [
    (1, 1, 3, 1, 1, 1, 1, 2, 5, 7),
    (3, 5, 3, 1, 1, 1, 1, 2, 8, 6),
    (3, 8, 5, 2, 2, 1, 1, 1, 9, 11),
    (63, 17, 3, 1, 1, 1, 1, 2, 7, 5),
    (64, 64, 3, 1, 1, 1, 1, 1, 6, 6),
    (65, 33, 3, 2, 1, 1, 1, 2, 9, 8),
    (65, 16, 3, 1, 2, 2, 1, 1, 7, 10),
    (130, 24, 3, 1, 1, 1, 2, 2, 6, 5),
    (130, 20, 5, 1, 2, 1, 2, 1, 7, 7),
    (128, 12, 3, 2, 2, 2, 4, 2, 8, 9),
    (12, 12, 3, 1, 1, 1, 4, 1, 5, 6),
    (8, 40, 1, 1, 0, 1, 4, 2, 6, 4),
    (200, 9, 1, 2, 0, 1, 1, 1, 7, 5),
    (129, 10, 1, 1, 1, 1, 1, 1, 4, 3),
    (2, 3, 5, 2, 0, 2, 1, 3, 12, 13),
    (72, 16, 3, 1, 2, 1, 8, 1, 5, 5),
    (65, 8, 3, 1, 1, 1, 1, 2, 70, 40),
    (3, 4, 3, 2, 1, 1, 1, 1, 3, 2100),
]


def _case_id(shape) -> str:
    c, o, k, s, p, d, g, n, h, w = shape
    return f'C{c}-O{o}-k{k}-s{s}-p{p}-d{d}-g{g}-{n}x{h}x{w}'


@pytest.fixture(params=xnor.supported_simd_paths() if xnor.is_available()
                else ['scalar'])
def simd(request, monkeypatch):
    """Run the test on one SIMD path, forced through the environment."""
    monkeypatch.setenv(xnor.SIMD_ENV, request.param)
    assert xnor.simd_path() == request.param
    return request.param


def _tricky_input(n: int, c: int, h: int, w: int,
                  threshold: Optional[torch.Tensor],
                  gen: torch.Generator) -> torch.Tensor:
    """Random input with exact zeros, negative zeros and values equal to the
    threshold (the ``>= 0`` boundary of the binarizer)."""
    x = torch.randn(n, c, h, w, generator=gen)
    pick = torch.rand(n, c, h, w, generator=gen)
    x[pick < 0.1] = 0.0
    x[(pick >= 0.1) & (pick < 0.15)] = -0.0
    if threshold is not None:
        at_threshold = threshold.expand_as(x)
        mask = (pick >= 0.15) & (pick < 0.3)
        x[mask] = at_threshold[mask]
    return x


def _sign_weight(o: int, c: int, k: int, gen: torch.Generator):
    return hard_sign(torch.randn(o, c, k, k, generator=gen))


def _reference(x, sign_weight, threshold, stride, padding, dilation, groups,
               scale=None, bias=None) -> torch.Tensor:
    """The float computation: conv2d on the zero-padded +-1 input (exact
    integers in float32), then ``* scale + bias``."""
    xb = hard_sign(x - threshold if threshold is not None else x)
    out = F.conv2d(xb, sign_weight, None, stride, padding, dilation, groups)
    if scale is not None:
        out = out * scale.view(1, -1, 1, 1)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


def _run(x, packed, shape, **kwargs) -> torch.Tensor:
    c, o, k, s, p, d, g = shape[:7]
    return xnor.binary_conv2d(
        x, packed, in_channels=c, out_channels=o, kernel_size=k, stride=s,
        padding=p, dilation=d, groups=g, **kwargs)


def test_extension_is_built():
    assert xnor.is_available(), f'import failed: {xnor.import_error()}'
    assert xnor.simd_path() in xnor.SIMD_PATHS
    assert 'scalar' in xnor.supported_simd_paths()


@pytest.mark.parametrize('shape', SHAPES, ids=_case_id)
def test_integer_outputs_equal_float_reference(shape, simd):
    c, o, k, s, p, d, g, n, h, w = shape
    gen = torch.Generator().manual_seed(sum(shape))
    weight = _sign_weight(o, c // g, k, gen)
    packed = xnor.pack_weight(weight)
    for threshold in (None, 0.3 * torch.randn(1, c, 1, 1, generator=gen)):
        x = _tricky_input(n, c, h, w, threshold, gen)
        out = _run(x, packed, shape, threshold=threshold)
        ref = _reference(x, weight, threshold, s, p, d, g)
        assert out.shape == ref.shape
        # exact integers: the same values, bit for bit
        assert torch.equal(out, ref), (out - ref).abs().max()


@pytest.mark.parametrize('shape', SHAPES[1::3], ids=_case_id)
def test_scale_and_bias_equal_float_reference(shape, simd):
    c, o, k, s, p, d, g, n, h, w = shape
    gen = torch.Generator().manual_seed(7 * sum(shape))
    weight = _sign_weight(o, c // g, k, gen)
    packed = xnor.pack_weight(weight)
    threshold = 0.3 * torch.randn(1, c, 1, 1, generator=gen)
    x = _tricky_input(n, c, h, w, threshold, gen)
    scale = torch.rand(o, generator=gen) * 0.1 + 1e-3
    bias = torch.randn(o, generator=gen)
    for kwargs in (dict(scale=scale), dict(bias=bias),
                   dict(scale=scale.view(o, 1, 1, 1), bias=bias)):
        out = _run(x, packed, shape, threshold=threshold, **kwargs)
        ref = _reference(x, weight, threshold, s, p, d, g,
                         kwargs.get('scale'), kwargs.get('bias'))
        # the kernel rounds d * scale, then + bias, like torch: still exact
        assert torch.equal(out, ref), (out - ref).abs().max()


@pytest.mark.parametrize('shape', SHAPES[::2], ids=_case_id)
def test_simd_paths_agree(shape, monkeypatch):
    c, o, k, g, n, h, w = shape[:3] + shape[6:]
    gen = torch.Generator().manual_seed(3 * sum(shape))
    packed = xnor.pack_weight(_sign_weight(o, c // g, k, gen))
    threshold = 0.3 * torch.randn(1, c, 1, 1, generator=gen)
    x = _tricky_input(n, c, h, w, threshold, gen)
    kwargs = dict(threshold=threshold, scale=torch.rand(o, generator=gen),
                  bias=torch.randn(o, generator=gen))
    outs = {}
    for path in xnor.supported_simd_paths():
        monkeypatch.setenv(xnor.SIMD_ENV, path)
        outs[path] = _run(x, packed, shape, **kwargs)
    for path, out in outs.items():
        assert torch.equal(out, outs['scalar']), path


def test_multithreaded_equals_single_threaded(simd):
    # 3 images of 25 padded rows: the two threads split image 1
    shape = (96, 40, 3, 1, 1, 1, 1, 3, 23, 19)
    c, o, k = shape[:3]
    gen = torch.Generator().manual_seed(11)
    weight = _sign_weight(o, c, k, gen)
    packed = xnor.pack_weight(weight)
    x = torch.randn(3, c, 23, 19, generator=gen)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        parallel = _run(x, packed, shape)
        torch.set_num_threads(1)
        serial = _run(x, packed, shape)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(parallel, serial)
    assert torch.equal(serial, _reference(x, weight, None, 1, 1, 1, 1))


def test_layout_and_autograd_of_the_input(simd):
    shape = (70, 16, 3, 1, 1, 1, 1, 2, 9, 7)
    gen = torch.Generator().manual_seed(5)
    packed = xnor.pack_weight(_sign_weight(16, 70, 3, gen))
    x = torch.randn(2, 70, 9, 7, generator=gen)
    expected = _run(x, packed, shape)
    channels_last = x.to(memory_format=torch.channels_last)
    assert torch.equal(_run(channels_last, packed, shape), expected)
    assert torch.equal(_run(x.transpose(2, 3).contiguous().transpose(2, 3),
                            packed, shape), expected)
    out = _run(x.requires_grad_(), packed, shape)  # inference only
    assert torch.equal(out, expected) and out.grad_fn is None


def _randomized_binary_conv(shape, weight_scaling: str,
                            bias: bool) -> BinaryConv:
    c, o, k, s, p, d, g = shape[:7]
    conv = BinaryConv(c, o, k, s, p, d, g, bias=bias,
                      weight_scaling=weight_scaling, act_threshold=True)
    with torch.no_grad():
        conv.threshold.normal_(0, 0.3)
        if bias:
            conv.bias.normal_()
        if conv.scale is not None:  # learnable: no longer mean |W|
            conv.scale.uniform_(0.01, 0.1)
    return conv.eval()


@pytest.mark.parametrize('weight_scaling', ['mean_abs', 'none', 'learnable'])
@pytest.mark.parametrize('shape', SHAPES[2::4], ids=_case_id)
def test_matches_binary_conv_in_eval_mode(shape, weight_scaling):
    c, k, g, n, h, w = shape[0], shape[2], *shape[6:]
    torch.manual_seed(sum(shape))
    conv = _randomized_binary_conv(shape, weight_scaling, bias=shape[0] % 2)
    with torch.no_grad():
        x = _tricky_input(n, c, h, w, conv.threshold, torch.Generator())
        expected = conv(x)
        latent = conv.weight
        scale = {'none': None,
                 'mean_abs': latent.abs().mean(dim=(1, 2, 3)),
                 'learnable': conv.scale}[weight_scaling]
        out = _run(x, xnor.pack_weight(hard_sign(latent)), shape,
                   threshold=conv.threshold, scale=scale, bias=conv.bias)
    assert not out.requires_grad
    # BinaryConv folds alpha into the weights and sums K = C/g*k*k terms
    # +-alpha in float32 (in oneDNN's order); the kernel sums exact integers
    # and rounds d * alpha once. The difference is float32 accumulation
    # error, bounded here by K * alpha * 2**-20, a millionth of the largest
    # possible |output| (K * alpha); a single flipped sign would move an
    # output by 2 * alpha.
    alpha = 1.0 if scale is None else scale.view(1, -1, 1, 1)
    k_terms = c // g * k * k
    assert ((out - expected).abs() <= k_terms * alpha * 2**-20).all()
    # and the integer dot products are the same
    bias = 0 if conv.bias is None else conv.bias.view(1, -1, 1, 1)
    assert torch.equal(((out - bias) / alpha).round(),
                       ((expected - bias) / alpha).round())


def test_pack_weight_layout_and_errors():
    gen = torch.Generator().manual_seed(0)
    weight = _sign_weight(10, 70, 3, gen)
    packed = xnor.pack_weight(weight)
    # 2 blocks of 8 channels; 9 taps x 2 words of bits, then 9 tap sums
    assert packed.shape == (2, 9 * 2 + 9, 8)
    assert packed.dtype == torch.int64 and packed.is_contiguous()
    tap_sums = packed[:, 18:, :].permute(0, 2, 1).reshape(16, 9)[:10]
    assert torch.equal(tap_sums, weight.sum(dim=1).flatten(1).long())
    # channel 65 of output 3, tap (0, 0): word 1, bit 1
    word = int(packed[0, 1, 3])
    assert bool(word >> 1 & 1) == bool(weight[3, 65, 0, 0] < 0)

    with pytest.raises(ValueError, match='sign_weight must hold exactly'):
        xnor.pack_weight(torch.randn(4, 4, 3, 3))
    with pytest.raises(ValueError, match='sign_weight must be a 4-D'):
        xnor.pack_weight(torch.ones(4, 4, 3))


def test_bad_arguments_are_clear_errors():
    packed = xnor.pack_weight(torch.ones(8, 4, 3, 3))
    x = torch.randn(1, 4, 6, 6)
    args = dict(in_channels=4, out_channels=8, kernel_size=3)
    with pytest.raises(ValueError, match='packed_weight must be'):
        xnor.binary_conv2d(x, packed, in_channels=4, out_channels=8,
                           kernel_size=5)
    with pytest.raises(ValueError, match='x has 4 channels but'):
        xnor.binary_conv2d(x, packed, in_channels=8, out_channels=8,
                           kernel_size=3)
    with pytest.raises(ValueError, match='groups=3 must divide'):
        xnor.binary_conv2d(x, packed, groups=3, **args)
    with pytest.raises(ValueError, match='threshold must have 4 elements'):
        xnor.binary_conv2d(x, packed, threshold=torch.zeros(3), **args)
    with pytest.raises(ValueError, match='scale must have 8 elements'):
        xnor.binary_conv2d(x, packed, scale=torch.ones(4), **args)
    with pytest.raises(ValueError, match='bias must be a float32'):
        xnor.binary_conv2d(x, packed, bias=torch.ones(8).double(), **args)
    with pytest.raises(ValueError, match='x must be a 4-D float32'):
        xnor.binary_conv2d(x.double(), packed, **args)
    with pytest.raises(ValueError, match='stride must be an int or a pair'):
        xnor.binary_conv2d(x, packed, stride=(1, 2, 3), **args)
    with pytest.raises(ValueError, match='smaller than the dilated kernel'):
        xnor.binary_conv2d(x[..., :2, :2], packed, **args)


def test_simd_environment_variable(monkeypatch):
    packed = xnor.pack_weight(torch.ones(8, 4, 1, 1))
    x = torch.randn(1, 4, 3, 3)
    monkeypatch.setenv(xnor.SIMD_ENV, 'sse9')
    message = "MMBNN_XNOR_SIMD='sse9' is not supported.*auto.*scalar.*avx2"
    with pytest.raises(ValueError, match=message):
        xnor.simd_path()
    with pytest.raises(ValueError, match=message):
        xnor.binary_conv2d(x, packed, in_channels=4, out_channels=8,
                           kernel_size=1)
    monkeypatch.setenv(xnor.SIMD_ENV, ' Scalar ')
    assert xnor.simd_path() == 'scalar'
    for value in ('auto', ''):
        monkeypatch.setenv(xnor.SIMD_ENV, value)
        assert xnor.simd_path() == xnor.supported_simd_paths()[-1]
    monkeypatch.delenv(xnor.SIMD_ENV)
    assert xnor.simd_path() == xnor.supported_simd_paths()[-1]
    if 'avx512_vpopcntdq' in xnor.supported_simd_paths():
        monkeypatch.setenv(xnor.SIMD_ENV, 'AVX512')
        assert xnor.simd_path() == 'avx512_vpopcntdq'


def test_missing_extension_is_reported(monkeypatch):
    error = ImportError('no _xnor_ext here')
    monkeypatch.setattr(_ext, 'extension', None)
    monkeypatch.setattr(_ext, 'IMPORT_ERROR', error)
    assert not xnor.is_available()
    assert xnor.import_error() is error
    with pytest.raises(RuntimeError, match='not built.*no _xnor_ext here'):
        xnor.binary_conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1),
                           in_channels=1, out_channels=1, kernel_size=1)
    with pytest.raises(RuntimeError, match='not built.*no _xnor_ext here'):
        float_kernels.max_pool2d(torch.zeros(1, 1, 3, 3), 2)


def test_random_configurations(simd):
    """A seeded sweep over the remaining combinations of the conv
    arguments (the SHAPES table covers the named corner cases)."""
    rng = random.Random(2024)
    for _ in range(12):
        g = rng.choice((1, 2, 4))
        c = g * rng.choice((1, 3, 16, 33))
        o = g * rng.choice((1, 2, 5, 9))
        k, s, p, d = (rng.choice((1, 3, 5)), rng.choice((1, 2)),
                      rng.choice((0, 1, 2)), rng.choice((1, 2)))
        smallest = max(d * (k - 1) + 1 - 2 * p, 1)
        h, w = rng.randint(smallest, 12), rng.randint(smallest, 12)
        shape = (c, o, k, s, p, d, g, rng.randint(1, 3), h, w)
        gen = torch.Generator().manual_seed(rng.randint(0, 1 << 30))
        weight = _sign_weight(o, c // g, k, gen)
        threshold = torch.randn(1, c, 1, 1, generator=gen)
        x = _tricky_input(shape[7], c, h, w, threshold, gen)
        out = _run(x, xnor.pack_weight(weight), shape, threshold=threshold)
        ref = _reference(x, weight, threshold, s, p, d, g)
        assert torch.equal(out, ref), shape
