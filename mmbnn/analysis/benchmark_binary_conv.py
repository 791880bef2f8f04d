# Copyright (c) mmbnn contributors. All rights reserved.
"""CPU inference benchmark of the packed XNOR-popcount kernel against
float32: single ResNet-18 layer shapes (``F.conv2d`` vs
:func:`mmbnn.ops.xnor.binary_conv2d`) and a whole ``BiRealResNet`` backbone
(``BinaryConv`` in float vs its :func:`mmbnn.deploy.convert_to_deploy`
form). Every variant runs once per round, round-robin, so machine noise
hits all of them alike; medians and ratios are reported."""
import copy
import platform
import statistics
import time
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F

from ..utils import check_choice

# (channels, spatial size) of the 3x3 convs of ResNet-18's four stages
RESNET18_LAYERS: Tuple[Tuple[int, int], ...] = ((64, 56), (128, 28),
                                                (256, 14), (512, 7))


def cpu_name() -> str:
    """The CPU model name (``/proc/cpuinfo``), for benchmark reports."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'cpu'


#: how :func:`timed_calls` orders the calls
CALL_ORDERS = ('interleaved', 'blocked')


def timed_calls(fns: Dict[str, Callable[[], object]],
                repeats: int,
                warmup: int = 3,
                order: str = 'interleaved') -> Dict[str, List[float]]:
    """Time ``warmup + repeats`` calls of every function.

    Args:
        fns (dict): ``{name: no-argument callable}``.
        repeats (int): Timed calls per function.
        warmup (int): Untimed calls first. Defaults to 3.
        order (str): ``'interleaved'``: every function once per round,
            round-robin, so machine noise hits all of them alike;
            ``'blocked'``: all calls of one function, then the next, so no
            function runs right after another (another runtime's worker
            threads can still be spinning and slow the next call).
            Defaults to ``'interleaved'``.

    Returns:
        dict: ``{name: [seconds per timed call]}``.
    """
    check_choice('order', order, CALL_ORDERS)
    if repeats < 1 or warmup < 0:
        raise ValueError(f'repeats={repeats} must be >= 1 and warmup='
                         f'{warmup} >= 0')
    if order == 'interleaved':
        calls = [name for _ in range(warmup + repeats) for name in fns]
    else:
        calls = [name for name in fns for _ in range(warmup + repeats)]
    times: Dict[str, List[float]] = {name: [] for name in fns}
    done = dict.fromkeys(fns, 0)
    with torch.inference_mode():
        for name in calls:
            start = time.perf_counter()
            fns[name]()
            elapsed = time.perf_counter() - start
            done[name] += 1
            if done[name] > warmup:
                times[name].append(elapsed)
    return times


def layer_pairs(shapes: Sequence[Tuple[int, int]] = RESNET18_LAYERS,
                batch: int = 1,
                seed: int = 0) -> Dict[str, Tuple[Callable, Callable]]:
    """Float32 ``conv2d`` and the packed kernel on 3x3 / stride 1 / pad 1
    convs of the given ``(channels, size)``.

    The kernel call does the whole layer: binarization of the input with a
    threshold, packing, XNOR-popcount and the per-channel scale.
    """
    from ..ops import hard_sign, xnor
    gen = torch.Generator().manual_seed(seed)
    pairs = {}
    for channels, size in shapes:
        x = torch.randn(batch, channels, size, size, generator=gen)
        sign = hard_sign(torch.randn(channels, channels, 3, 3, generator=gen))
        scale = torch.rand(channels, generator=gen)
        weight = sign * scale.view(-1, 1, 1, 1)
        threshold = 0.1 * torch.randn(1, channels, 1, 1, generator=gen)
        packed = xnor.pack_weight(sign)

        def float_conv(x=x, weight=weight):
            return F.conv2d(x, weight, None, 1, 1)

        def packed_conv(x=x, packed=packed, channels=channels,
                        threshold=threshold, scale=scale):
            return xnor.binary_conv2d(
                x, packed, in_channels=channels, out_channels=channels,
                kernel_size=3, padding=1, threshold=threshold, scale=scale)

        pairs[f'{channels}@{size}x{size}'] = (float_conv, packed_conv)
    return pairs


def backbone_pair(depth: int = 18,
                  image_size: int = 224,
                  batch: int = 1,
                  seed: int = 0,
                  fuse: bool = False) -> Tuple[Callable, Callable, dict]:
    """``BiRealResNet(depth)`` in eval mode (float convs on +-1 values) and
    the same model after :func:`mmbnn.deploy.convert_to_deploy` (with
    ``fuse``: its fused form).

    Returns:
        tuple: The float forward, the deploy forward, and facts about the
        pair (packed layer count, whether they use the kernel, the largest
        output difference relative to the output scale).
    """
    from ..deploy import PackedBinaryConv, convert_to_deploy
    from ..models.backbones.bireal_resnet import BiRealResNet
    torch.manual_seed(seed)
    model = BiRealResNet(depth=depth).eval()
    deploy = convert_to_deploy(copy.deepcopy(model), fuse=fuse)
    x = torch.randn(batch, 3, image_size, image_size,
                    generator=torch.Generator().manual_seed(seed))
    packed = [m for m in deploy.modules() if isinstance(m, PackedBinaryConv)]
    with torch.inference_mode():
        ref, out = model(x), deploy(x)
        # a float32 rounding difference can flip one binarized activation,
        # which then propagates: report, do not require, agreement
        diff = max(float((a - b).abs().max() / a.abs().max().clamp_min(1e-12))
                   for a, b in zip(ref, out))
        uses_kernel = all(m.uses_kernel(x) for m in packed)
    facts = dict(packed_layers=len(packed), uses_kernel=uses_kernel,
                 max_relative_difference=diff)
    return (lambda: model(x)), (lambda: deploy(x)), facts


def mmdet_resnet(depth: int = 18,
                 image_size: int = 224,
                 batch: int = 1,
                 seed: int = 0) -> Callable:
    """The forward of mmdet's full-precision ``ResNet(depth)`` (eval mode,
    all four stages out), the backbone a user would deploy otherwise."""
    from mmdet.models.backbones import ResNet
    torch.manual_seed(seed)
    model = ResNet(depth=depth, out_indices=(0, 1, 2, 3))
    model.eval()  # mmdet's ResNet.train returns None: no chaining
    x = torch.randn(batch, 3, image_size, image_size,
                    generator=torch.Generator().manual_seed(seed))
    return lambda: model(x)


def benchmark_binary_conv(shapes: Sequence[Tuple[int, int]] = RESNET18_LAYERS,
                          backbone_depth: int = 18,
                          image_size: int = 224,
                          repeats: int = 30,
                          warmup: int = 3) -> dict:
    """Run the layer and backbone comparisons in one interleaved loop.

    Args:
        shapes (Sequence[tuple]): Layer ``(channels, size)`` to time.
        backbone_depth (int): ``BiRealResNet`` depth, or 0 to skip it.
        image_size (int): Backbone input size. Defaults to 224.
        repeats (int): Timed rounds. Defaults to 30.
        warmup (int): Untimed rounds first. Defaults to 3.

    Returns:
        dict: ``rows`` (per case: ``name``, ``float_ms``, ``packed_ms``
        medians, ``speedup`` = float / packed), ``threads``, ``simd`` and,
        with a backbone, ``backbone`` facts (see :func:`backbone_pair`).
    """
    from ..ops import xnor
    pairs = dict(layer_pairs(shapes))
    facts = None
    if backbone_depth:
        float_fn, deploy_fn, facts = backbone_pair(backbone_depth,
                                                   image_size)
        pairs[f'BiRealResNet-{backbone_depth} backbone '
              f'1x3x{image_size}x{image_size}'] = (float_fn, deploy_fn)
        fused_fn = backbone_pair(backbone_depth, image_size, fuse=True)[1]
        pairs[f'BiRealResNet-{backbone_depth} backbone, fused deploy'] = (
            float_fn, fused_fn)
        mmdet_fn = mmdet_resnet(backbone_depth, image_size)
        pairs[f'mmdet ResNet-{backbone_depth} FP32 vs BiRealResNet-'
              f'{backbone_depth} deploy'] = (mmdet_fn, deploy_fn)
        pairs[f'mmdet ResNet-{backbone_depth} FP32 vs BiRealResNet-'
              f'{backbone_depth} fused deploy'] = (mmdet_fn, fused_fn)
    fns = {}
    for name, (float_fn, packed_fn) in pairs.items():
        fns[(name, 'float')] = float_fn
        fns[(name, 'packed')] = packed_fn
    times = timed_calls(fns, repeats, warmup)
    rows = []
    for name in pairs:
        float_s = statistics.median(times[(name, 'float')])
        packed_s = statistics.median(times[(name, 'packed')])
        rows.append(dict(name=name, float_ms=float_s * 1e3,
                         packed_ms=packed_s * 1e3,
                         speedup=float_s / packed_s))
    return dict(rows=rows, threads=torch.get_num_threads(),
                simd=xnor.simd_path(), backbone=facts, repeats=repeats)


def format_table(result: dict) -> str:
    """A Markdown table of :func:`benchmark_binary_conv`'s rows."""
    lines = ['| case | float32 median (ms) | packed median (ms) | speed-up |',
             '|---|---:|---:|---:|']
    for row in result['rows']:
        lines.append(f"| {row['name']} | {row['float_ms']:.3f} | "
                     f"{row['packed_ms']:.3f} | {row['speedup']:.1f}x |")
    return '\n'.join(lines)
