# Copyright (c) mmbnn contributors. All rights reserved.
"""The machine limit of an OpenVINO network: its multiply-accumulates per
precision at the best throughput the CPU plugin reaches on single layers.

:func:`network_work` counts the MACs of a compiled network's conv / FC
layers per category of
:func:`~mmbnn.analysis.benchmark_detector.layer_category`
(``BinaryConvolution``: 1-bit MACs, one XNOR-popcount lane each; ``INT8
conv/FC``; ``FP32 conv/FC``), from the CPU plugin's execution graph, so a
layer counts in the precision it actually runs in. :func:`measure_peaks`
times single-layer networks built with OpenVINO's opset (a
``BinaryConvolution`` behind the 2-level ``FakeQuantize`` binarization of
exported networks, NNCF-quantized INT8 convs and MatMuls, FP32 ones) and
keeps each category's best MAC/s. :func:`hardware_limit_ms` is the time the
network's MACs take at those peaks: an estimate of what the conv / FC
arithmetic alone needs, not a guaranteed bound (a layer of the network
can beat a peak measured on the few sampled shapes, and everything but
the conv / FC arithmetic is left out).
"""
import math
import statistics
import time
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .benchmark_detector import layer_category

#: the :func:`~mmbnn.analysis.benchmark_detector.layer_category` values
#: that do multiply-accumulates, in report order
WORK_CATEGORIES = ('BinaryConvolution', 'INT8 conv/FC', 'FP32 conv/FC')
#: execution-graph layer types whose weights are input 1 in
#: ``(G,) O, C / G, *kernel`` layout
_CONV_TYPES = ('Convolution', 'GroupConvolution', 'BinaryConvolution')
#: ``(channels, height, width)`` of the 3x3, stride-1 convs timed by
#: :func:`measure_peaks` (input channels = output channels)
PEAK_CONV_SHAPES: Tuple[Tuple[int, int, int], ...] = (
    (256, 38, 38), (256, 19, 19), (512, 38, 38), (512, 19, 19))
#: ``(rows, inner, columns)`` of the MatMuls timed by :func:`measure_peaks`
#: (an RoI head's FCs: one row per RoI)
PEAK_FC_SHAPES: Tuple[Tuple[int, int, int], ...] = (
    (300, 1024, 1024), (1000, 2048, 1024))
#: kernel size of the peak convs
PEAK_KERNEL = 3


def _static(shape, layer: str) -> List[int]:
    if shape.is_dynamic:
        raise ValueError(f'layer {layer!r}: counting its MACs needs static '
                         f'shapes, got {shape}')
    return [d.get_length() for d in shape]


def layer_macs(layer_type: str, inputs: Sequence[Sequence[int]],
               output: Sequence[int]) -> int:
    """Multiply-accumulates of one conv / FC layer of an execution graph.

    Args:
        layer_type (str): The layer type (``layerType``).
        inputs (Sequence[Sequence[int]]): Its input shapes (input 0: the
            data, input 1: the weights).
        output (Sequence[int]): Its output shape.

    Returns:
        int: Convs (``Convolution``, ``GroupConvolution``,
        ``BinaryConvolution``): output elements x input channels per group
        x kernel area; ``Deconvolution``: input elements x output channels
        per group x kernel area; ``FullyConnected``: output elements x the
        input's last dimension; ``MatMul``: output elements x the inner
        dimension (found from the last two dimensions of the operands and
        the output, whatever their transposition).

    Raises:
        ValueError: For another layer type.
    """
    out = math.prod(output)
    if layer_type in _CONV_TYPES + ('Deconvolution', ):
        weight = inputs[1]
        spatial = len(output) - 2
        per_tap = weight[-spatial - 1] * math.prod(weight[-spatial:])
        if layer_type == 'Deconvolution':  # weights (G,) C / G, O / G, k
            return math.prod(inputs[0]) * per_tap
        return out * per_tap
    if layer_type == 'FullyConnected':
        return out * inputs[0][-1]
    if layer_type == 'MatMul':
        a, b = inputs[0], inputs[1]
        if min(len(a), len(b), len(output)) < 2:
            return out * a[-1]
        # (M K or K M) x (K N or N K) -> M N: the last two dims give K^2 M N
        inner = math.isqrt(math.prod(a[-2:]) * math.prod(b[-2:]) //
                           math.prod(output[-2:]))
        return out * inner
    raise ValueError(f'layer type {layer_type!r} has no MAC count; allowed '
                     "values: " + ', '.join(map(repr, _CONV_TYPES + (
                         'Deconvolution', 'FullyConnected', 'MatMul'))))


def network_work(compiled) -> Dict[str, int]:
    """The multiply-accumulates of a compiled network per precision.

    Reads the CPU plugin's execution graph (``get_runtime_model()``) as
    :func:`~mmbnn.analysis.benchmark_detector.profile_network` does: each
    layer's category is :func:`~mmbnn.analysis.benchmark_detector.
    layer_category` of its type and runtime precision, its MACs
    :func:`layer_macs` of its input ports' shapes (input 1 of a conv / FC
    is its weights) and output shape.

    Args:
        compiled: ``openvino.CompiledModel`` or
            :class:`~mmbnn.deploy.int8.SegmentedCompiledModel` (every
            segment counted).

    Returns:
        dict: ``{category: MACs}`` for each of :data:`WORK_CATEGORIES`
        (0 where the network has none); ``BinaryConvolution`` MACs are
        1-bit ones.

    Raises:
        ValueError: For a conv / FC layer without static shapes.
    """
    work = dict.fromkeys(WORK_CATEGORIES, 0)
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer_type = info['layerType'].astype(str)
        category = layer_category(
            layer_type, info['runtimePrecision'].astype(str).lower(),
            info['outputPrecisions'].astype(str).lower().split(','))
        if category not in work:
            continue
        name = op.get_friendly_name()
        inputs = [_static(op.get_input_partial_shape(i), name)
                  for i in range(op.get_input_size())]
        output = _static(op.get_output_partial_shape(0), name)
        work[category] += layer_macs(layer_type, inputs, output)
    return work


def _peak_rate(peak: Union[float, Mapping]) -> float:
    """MAC/s of a :func:`measure_peaks` entry (or a plain number)."""
    return float(peak['mac_per_s'] if isinstance(peak, Mapping) else peak)


def hardware_limit_ms(work: Mapping[str, float],
                      peaks: Mapping[str, Union[float, Mapping]]) -> float:
    """The time a network's MACs take at the measured peaks.

    Args:
        work (Mapping): ``{category: MACs}`` (:func:`network_work`).
        peaks (Mapping): ``{category: MAC/s}``, or the entries of
            :func:`measure_peaks` (their ``mac_per_s``).

    Returns:
        float: ``sum(MACs / peak)`` over the categories, in ms.

    Raises:
        ValueError: For a category with MACs but no peak, or a peak that is
            not positive (the category and the available ones are named).
    """
    total = 0.0
    for category, macs in work.items():
        if not macs:
            continue
        if category not in peaks:
            raise ValueError(
                f'no peak for work category {category!r} ({macs} MACs); '
                'available: ' + (', '.join(map(repr, peaks)) or 'none'))
        rate = _peak_rate(peaks[category])
        if not rate > 0:
            raise ValueError(f'peak of {category!r} is {rate} MAC/s; it '
                             'must be > 0')
        total += macs / rate
    return total * 1e3


def _conv_model(channels: int, size: int, kind: str, seed: int):
    """A single 3x3 conv network: ``'binary'`` (2-level FakeQuantize +
    BinaryConvolution, as exported) or ``'float'``."""
    import openvino as ov
    import openvino.opset13 as ops

    from ..deploy.openvino_graph import build_binary_conv
    rng = np.random.default_rng(seed)
    weight_shape = (channels, channels, PEAK_KERNEL, PEAK_KERNEL)
    x = ops.parameter([1, channels, size, size], np.float32)
    pad = [PEAK_KERNEL // 2] * 2
    if kind == 'binary':
        bits = rng.integers(0, 256, (math.prod(weight_shape) + 7) // 8,
                            dtype=np.uint8)
        y = build_binary_conv(
            x.output(0), np.zeros(channels, np.float32), bits,
            weight_shape, np.ones(channels, np.float32),
            np.zeros(channels, np.float32), (1, 1), pad, (1, 1),
            name='peak_binary_conv')
    else:
        weight = rng.standard_normal(weight_shape, np.float32) * 0.05
        y = ops.convolution(x, ops.constant(weight), [1, 1], pad, pad,
                            [1, 1])
    return ov.Model([y], [x], f'peak_{kind}_conv')


def _fc_model(rows: int, inner: int, columns: int, seed: int):
    """A single MatMul network ``(rows, inner) x (inner, columns)``."""
    import openvino as ov
    import openvino.opset13 as ops
    rng = np.random.default_rng(seed)
    x = ops.parameter([rows, inner], np.float32)
    weight = rng.standard_normal((inner, columns), np.float32) * 0.05
    return ov.Model([ops.matmul(x, ops.constant(weight), False, False)], [x],
                    'peak_fc')


def measure_peaks(threads: Optional[int] = None,
                  conv_shapes: Sequence[Tuple[int, int, int]] = (
                      PEAK_CONV_SHAPES),
                  fc_shapes: Sequence[Tuple[int, int, int]] = PEAK_FC_SHAPES,
                  repeats: int = 10,
                  warmup: int = 2,
                  **config) -> Dict[str, dict]:
    """The best MAC/s the CPU plugin reaches per :data:`WORK_CATEGORIES`
    entry, on single-layer networks.

    For each conv shape: a ``BinaryConvolution`` behind the 2-level
    ``FakeQuantize`` binarization exported networks have
    (:func:`~mmbnn.deploy.openvino_graph.build_binary_conv`, so the plugin
    picks the same kernel), an FP32 conv and that conv quantized by
    :func:`~mmbnn.deploy.int8.quantize_int8` (u8 activations, i8 weights);
    for each FC shape: an FP32 MatMul and its quantized form. Each network
    is compiled with :func:`~mmbnn.deploy.openvino_graph.compile_model`,
    run ``warmup`` times, then timed over ``repeats`` ``infer`` calls
    (``time.perf_counter``); its rate is its MACs (:func:`network_work`)
    over the median call. A call's time includes the layer's input
    binarization / quantization and reorders, as in a network.

    Args:
        threads (int, optional): ``INFERENCE_NUM_THREADS``.
        conv_shapes (Sequence[tuple]): ``(channels, height, width)`` of the
            3x3 stride-1 convs (binary ones need channels that are a
            multiple of 8). Defaults to :data:`PEAK_CONV_SHAPES`.
        fc_shapes (Sequence[tuple]): ``(rows, inner, columns)`` of the
            MatMuls. Defaults to :data:`PEAK_FC_SHAPES`.
        repeats (int): Timed calls per network. Defaults to 10.
        warmup (int): Untimed calls before them. Defaults to 2.
        **config: Further CPU properties for every compilation.

    Returns:
        dict: Per category: ``mac_per_s`` (the best rate), ``shape`` (the
        network that reached it, e.g. ``'conv 256x38x38 3x3'``) and
        ``runs``: ``shape``, ``macs``, ``ms`` (median) and ``mac_per_s`` of
        every network of the category.

    Raises:
        ValueError: For ``repeats`` < 1, ``warmup`` < 0 or no shapes.
        RuntimeError: If the plugin ran a network's MACs in another
            category than the one it was built for.
    """
    from ..deploy.int8 import quantize_int8
    from ..deploy.openvino_graph import compile_model
    if repeats < 1 or warmup < 0:
        raise ValueError(f'repeats={repeats} must be >= 1 and warmup='
                         f'{warmup} >= 0')
    if not conv_shapes and not fc_shapes:
        raise ValueError('measure_peaks needs conv_shapes or fc_shapes')
    rng = np.random.default_rng(0)
    networks = []  # (category, shape label, ov.Model, input)
    for index, (channels, height, width) in enumerate(conv_shapes):
        if height != width:
            raise ValueError(f'conv_shapes: {height}x{width} must be square')
        label = f'conv {channels}x{height}x{width} {PEAK_KERNEL}x' \
            f'{PEAK_KERNEL}'
        # non-negative inputs: u8 activations, as after a ReLU
        image = rng.random((1, channels, height, width), np.float32)
        fp32 = _conv_model(channels, height, 'float', index)
        networks += [
            ('BinaryConvolution', label,
             _conv_model(channels, height, 'binary', index), image - 0.5),
            ('INT8 conv/FC', label, quantize_int8(fp32, [image], scope='all'),
             image),
            ('FP32 conv/FC', label, fp32, image)]
    for index, (rows, inner, columns) in enumerate(fc_shapes):
        label = f'fc {rows}x{inner}x{columns}'
        data = rng.random((rows, inner), np.float32)
        fp32 = _fc_model(rows, inner, columns, index)
        networks += [
            ('INT8 conv/FC', label, quantize_int8(fp32, [data], scope='all'),
             data),
            ('FP32 conv/FC', label, fp32, data)]
    peaks: Dict[str, dict] = {}
    for category, label, model, data in networks:
        compiled = compile_model(model, threads, **config)
        work = network_work(compiled)
        if work[category] == 0 or sum(work.values()) != work[category]:
            raise RuntimeError(
                f'peak network {label} built for {category!r} ran as '
                f'{ {k: v for k, v in work.items() if v} }')
        request = compiled.create_infer_request()
        seconds = []
        for call in range(warmup + repeats):
            start = time.perf_counter()
            request.infer([data], share_inputs=True)
            if call >= warmup:
                seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        run = dict(shape=label, macs=work[category], ms=median * 1e3,
                   mac_per_s=work[category] / median)
        entry = peaks.setdefault(category, dict(mac_per_s=0.0, shape=None,
                                                runs=[]))
        entry['runs'].append(run)
        if run['mac_per_s'] > entry['mac_per_s']:
            entry.update(mac_per_s=run['mac_per_s'], shape=label)
    return {c: peaks[c] for c in WORK_CATEGORIES if c in peaks}


def limit_fields(network_ms: Optional[float], work: Mapping[str, int],
                 peaks: Mapping[str, Union[float, Mapping]]) -> dict:
    """The hardware-limit columns of one benchmark row.

    Args:
        network_ms (float, optional): The measured network time (median).
        work (Mapping): :func:`network_work` of the network.
        peaks (Mapping): :func:`measure_peaks`.

    Returns:
        dict: ``gmacs`` (``{category: GMACs}``), ``limit_ms``
        (:func:`hardware_limit_ms`), ``above_limit`` (measured / limit)
        and ``limit_share`` (limit / measured); the last two None without
        a measured time or a zero limit.
    """
    limit = hardware_limit_ms(work, peaks)
    timed = bool(network_ms) and limit > 0
    return dict(gmacs={c: work.get(c, 0) / 1e9 for c in WORK_CATEGORIES},
                limit_ms=limit,
                above_limit=network_ms / limit if timed else None,
                limit_share=limit / network_ms if timed else None)


def format_hardware_limit(rows: Sequence[dict],
                          peaks: Mapping[str, Mapping]) -> str:
    """A Markdown table of the rows that have :func:`limit_fields` (and
    ``name``, ``proposals``, ``network_ms``, ``ir_size_mb``), then a line
    with the peaks of :func:`measure_peaks`."""
    def cell(value, spec, unit=''):
        return '-' if value is None else format(value, spec) + unit

    lines = ['| model | proposals | network (ms) | IR (MB) | 1-bit GMAC | '
             'INT8 GMAC | FP32 GMAC | limit (ms) | above limit | '
             'limit / measured |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for row in rows:
        num = 'config' if row.get('proposals') is None else row['proposals']
        gmacs = ' | '.join(f"{row['gmacs'][c]:.3f}" for c in WORK_CATEGORIES)
        lines.append(
            f"| {row['name']} | {num} | {cell(row.get('network_ms'), '.2f')}"
            f" | {cell(row.get('ir_size_mb'), '.2f')} | {gmacs} | "
            f"{row['limit_ms']:.2f} | "
            f"{cell(row['above_limit'], '.1f', 'x')} | "
            f"{cell(row['limit_share'], '.0%')} |")
    lines.append('peaks: ' + '; '.join(
        f"{category} {peak['mac_per_s'] / 1e9:.1f} GMAC/s ({peak['shape']})"
        for category, peak in peaks.items()))
    return '\n'.join(lines)
