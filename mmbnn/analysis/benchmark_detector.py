# Copyright (c) mmbnn contributors. All rights reserved.
"""Whole-detector CPU latency: a full-precision detector against the deploy
form of a binary one, on the same test pipeline input.

Each variant is ``model.predict`` on one preprocessed batch (the config's
test pipeline and data preprocessor, as ``mmdet.apis.inference_detector``
prepares it); every variant runs once per round, so machine noise hits all
alike (or, with ``order='blocked'``, all calls of one variant, then the
next). Stage times are measured in the same calls by timing the stage
methods of the model (see :data:`STAGES`); ``other`` is the rest of
``predict`` (anchors, RoI bookkeeping, rescaling).

With OpenVINO networks, :func:`profile_network` reads the CPU plugin's
per-layer performance counters on a separate, profiling-enabled compilation
(:func:`openvino_variants` with ``profile=True``), so the timed calls run
without profiling; :func:`format_profiles` prints them per
:data:`PROFILE_CATEGORIES`.
"""
import os
import statistics
import time
import warnings
from collections import defaultdict
from contextlib import ExitStack, contextmanager
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple)

import numpy as np
import torch
from torch import nn

from .benchmark_binary_conv import timed_calls

# (stage name, submodule path, method): the stages timed inside predict.
# They do not nest: e.g. RPNHead.predict calls forward, then predict_by_feat.
STAGES: Tuple[Tuple[str, str, str], ...] = (
    ('backbone', 'backbone', 'forward'),
    ('neck', 'neck', 'forward'),
    ('rpn_head', 'rpn_head', 'forward'),
    ('rpn_proposals', 'rpn_head', 'predict_by_feat'),
    ('roi_extractor', 'roi_head.bbox_roi_extractor', 'forward'),
    ('roi_bbox_head', 'roi_head.bbox_head', 'forward'),
    ('roi_post', 'roi_head.bbox_head', 'predict_by_feat'),
    ('bbox_head', 'bbox_head', 'forward'),
    ('bbox_post', 'bbox_head', 'predict_by_feat'),
    # the exported network of an OpenVINODetector (backbone, neck, dense
    # heads' raw outputs)
    ('openvino_network', 'network', 'forward'),
)


def _submodule(model: nn.Module, path: str) -> Optional[nn.Module]:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


@contextmanager
def stage_timers(model: nn.Module, sink: Dict[str, float]):
    """Add the seconds spent in each of :data:`STAGES` (those the model
    has) to ``sink`` while the block runs, and the number of RoIs the RoI
    extractor receives to ``sink['rois']``; the methods are restored after.
    """
    patched: List[Tuple[nn.Module, str]] = []
    for stage, path, method in STAGES:
        module = _submodule(model, path)
        if module is None or not hasattr(module, method):
            continue
        original = getattr(module, method)

        def timed(*args, _fn=original, _stage=stage, **kwargs):
            if _stage == 'roi_extractor' and len(args) > 1:
                sink['rois'] = sink.get('rois', 0) + len(args[1])
            start = time.perf_counter()
            try:
                return _fn(*args, **kwargs)
            finally:
                sink[_stage] = (sink.get(_stage, 0.0) +
                                time.perf_counter() - start)

        setattr(module, method, timed)  # an instance attribute shadows it
        patched.append((module, method))
    try:
        yield
    finally:
        for module, method in patched:
            delattr(module, method)


def prepare_batch(model: nn.Module, cfg, image_hw: Sequence[int],
                  batch: int, seed: int = 0) -> dict:
    """A preprocessed batch of ``batch`` copies of one random image of
    ``image_hw``, through the config's test pipeline and the model's data
    preprocessor (as ``inference_detector`` does)."""
    from mmcv.transforms import Compose
    from mmdet.utils import get_test_pipeline_cfg
    from mmengine.dataset import pseudo_collate
    pipeline = get_test_pipeline_cfg(cfg).copy()
    pipeline[0] = dict(pipeline[0], type='mmdet.LoadImageFromNDArray')
    image = np.random.default_rng(seed).integers(
        0, 256, (*image_hw, 3), dtype=np.uint8)
    sample = Compose(pipeline)(dict(img=image, img_id=0))
    with torch.no_grad():
        return model.data_preprocessor(pseudo_collate([sample] * batch),
                                       False)


def set_num_proposals(model: nn.Module, num: Optional[int]) -> None:
    """Set the RPN's test-time proposal count (``test_cfg.rpn.nms_pre`` and
    ``max_per_img``) of a two-stage detector; no-op for others."""
    head = getattr(model, 'rpn_head', None)
    if num is None or head is None:
        return
    head.test_cfg['nms_pre'] = num
    head.test_cfg['max_per_img'] = num


def benchmark_detectors(variants: Dict[str, Tuple[nn.Module, dict]],
                        proposals: Sequence[Optional[int]] = (None, ),
                        repeats: int = 10,
                        warmup: int = 2,
                        order: str = 'interleaved') -> List[dict]:
    """Time ``model.predict`` of every variant x proposal count.

    Args:
        variants (dict): ``{name: (model in eval mode, preprocessed
            batch)}``.
        proposals (Sequence[int | None]): RPN proposal counts to run
            (None: the config's); ignored by one-stage detectors.
        repeats (int): Timed calls per variant x proposal count. Defaults
            to 10.
        warmup (int): Untimed calls of each first. Defaults to 2.
        order (str): ``'interleaved'`` or ``'blocked'`` (see
            :func:`~mmbnn.analysis.benchmark_binary_conv.timed_calls`).
            Defaults to ``'interleaved'``.

    Returns:
        list[dict]: Per (variant, proposals): ``name``, ``proposals``,
        ``total_ms`` (median), ``stages_ms`` (median per stage, plus
        ``other``) and ``rois`` (RoIs the RoI head received per batch).
    """
    stage_log: Dict[tuple, List[Dict[str, float]]] = {}
    fns: Dict[tuple, Callable] = {}
    sinks: Dict[int, Dict[str, float]] = {}  # id(model) -> current call
    for name, (model, data) in variants.items():
        sink = sinks.setdefault(id(model), {})
        for num in proposals:
            key = (name, num)
            stage_log[key] = []

            def run(model=model, data=data, num=num, key=key, sink=sink):
                set_num_proposals(model, num)
                sink.clear()
                results = model.predict(data['inputs'],
                                        data['data_samples'])
                stage_log[key].append(dict(sink))
                return results

            fns[key] = run
    # the timers are installed once, outside the timed calls
    with ExitStack() as stack:
        models = {id(model): model for model, _ in variants.values()}
        for model_id, model in models.items():
            stack.enter_context(stage_timers(model, sinks[model_id]))
        times = timed_calls(fns, repeats, warmup, order)
    rows = []
    for key, seconds in times.items():
        timed = stage_log[key][warmup:]
        num_rois = [t.pop('rois', 0) for t in timed]
        stages = {
            stage: statistics.median(t.get(stage, 0.0) for t in timed) * 1e3
            for stage in timed[0]
        }
        total = statistics.median(seconds) * 1e3
        others = [s - sum(t.values()) for s, t in zip(seconds, timed)]
        stages['other'] = statistics.median(others) * 1e3
        rows.append(dict(name=key[0], proposals=key[1], total_ms=total,
                         stages_ms=stages, rois=max(num_rois)))
    return rows


def format_rows(rows: List[dict], reference: str) -> str:
    """A Markdown table: totals, speed-up against ``reference`` at the same
    proposal count, and the per-stage medians."""
    stages = []
    for row in rows:
        stages += [s for s in row['stages_ms'] if s not in stages]
    ref = {row['proposals']: row['total_ms'] for row in rows
           if row['name'] == reference}
    head = ('| model | proposals | RoIs | total (ms) | speed-up | ' +
            ' | '.join(f'{s} (ms)' for s in stages) + ' |')
    lines = [head, '|---|---:|---:|---:|---:|' + '---:|' * len(stages)]
    for row in rows:
        speedup = ref.get(row['proposals'], float('nan')) / row['total_ms']
        cells = ' | '.join(f"{row['stages_ms'].get(s, 0.0):.1f}"
                           for s in stages)
        num = 'config' if row['proposals'] is None else row['proposals']
        lines.append(f"| {row['name']} | {num} | {row['rois']} | "
                     f"{row['total_ms']:.1f} | "
                     f'{speedup:.2f}x | {cells} |')
    return '\n'.join(lines)


def openvino_variants(fp_model: nn.Module, fp_data: dict,
                      binary_model: nn.Module, data: dict, work_dir: str,
                      threads: Optional[int] = None,
                      with_float_binary: bool = False,
                      flush_denormals: bool = True,
                      fast_roi_align: bool = False,
                      int8: bool = False,
                      profile: bool = False,
                      int8_scope: Optional[str] = None,
                      roi_head_openvino: bool = False
                      ) -> Dict[str, Tuple[nn.Module, dict]]:
    """The detectors with their networks on OpenVINO's CPU plugin
    (:class:`~mmbnn.deploy.openvino.OpenVINODetector`), exported for the
    batches' input sizes, for :func:`benchmark_detectors`.

    Args:
        fp_model, binary_model (nn.Module): The full-precision and binary
            detectors (the binary one is converted to its deploy form).
        fp_data, data (dict): Their preprocessed batches.
        work_dir (str): Where the ONNX files are written.
        threads (int, optional): OpenVINO's ``INFERENCE_NUM_THREADS``.
        with_float_binary (bool): Also the binary network with float convs
            on +-1 values (no ``BinaryConvolution``).
        flush_denormals (bool): Flush float32 denormals to zero in OpenVINO
            too (``CPU_DENORMALS_OPTIMIZATION``). Defaults to True.
        fast_roi_align (bool): Run the RoI heads' RoIAlign (PyTorch side,
            every variant) on mmbnn's equal-valued kernel
            (:func:`~mmbnn.deploy.fusion.replace_real_ops`). Defaults to
            False.
        int8 (bool): Also both networks with their real-valued convs in
            INT8 (:func:`~mmbnn.deploy.int8.quantize_int8`, calibrated on
            the timed batch: the latency does not depend on the ranges).
            Defaults to False.
        profile (bool): Also compile each network a second time with
            OpenVINO's performance counters on (``PERF_COUNT``), as the
            detector's ``profiled_network`` (for :func:`profile_variants`);
            the detector itself runs the compilation without them.
            Defaults to False.
        int8_scope (str, optional): With ``int8``: which real convs / FCs
            are quantized (``scope`` of :func:`~mmbnn.deploy.int8.
            quantize_int8`; the same on the FP32 network). Defaults to
            :data:`~mmbnn.deploy.int8.DEFAULT_INT8_SCOPE`.
        roi_head_openvino (bool): Two-stage detectors: every variant also
            runs its RoI box head (shared FCs, cls / reg FCs) on OpenVINO
            (:func:`~mmbnn.deploy.openvino_roi_head.use_openvino_box_head`)
            in the variant's precision: FP32 in the FP32 variants, INT8
            (every FC, calibrated on the RoI features of the timed batch)
            in the INT8 ones; RoIAlign and the box post-processing stay in
            PyTorch. The detector's ``box_head_precision_report`` is its
            :func:`~mmbnn.deploy.int8.runtime_precision_report`; with
            ``profile``, ``profiled_box_head`` is its profiling-enabled
            compilation. Single-stage detectors are left as they are.
            Defaults to False.

    Returns:
        dict: ``{'FP32 (OpenVINO)': ..., ['INT8 (OpenVINO)': ...,]
        ['binary float convs (OpenVINO)': ...,] 'binary (OpenVINO)': ...,
        ['binary+INT8 (OpenVINO)': ...]}``. Each detector has
        ``precision_report``: :func:`~mmbnn.deploy.int8.
        runtime_precision_report` of its compiled network, and
        ``ir_size_mb``: :func:`ir_size_mb` of the network it compiled (the
        quantized one of an INT8 variant).
    """
    import copy
    import os.path as osp

    from ..deploy import convert_to_deploy
    from ..deploy import openvino as ovd
    from ..deploy.int8 import (DEFAULT_INT8_SCOPE, check_int8_scope,
                               quantize_int8, runtime_precision_report)
    scope = check_int8_scope(int8_scope or DEFAULT_INT8_SCOPE, 'int8_scope')
    config = dict(CPU_DENORMALS_OPTIMIZATION=bool(flush_denormals))
    deploy = convert_to_deploy(binary_model, backend='reference')
    specs = [('FP32 (OpenVINO)', fp_model, fp_data, True, False)]
    if int8:
        specs.append(('INT8 (OpenVINO)', fp_model, fp_data, True, True))
    if with_float_binary:
        specs.append(('binary float convs (OpenVINO)', deploy, data, False,
                      False))
    specs.append(('binary (OpenVINO)', deploy, data, True, False))
    if int8:
        specs.append(('binary+INT8 (OpenVINO)', deploy, data, True, True))
    variants = {}
    for index, (name, model, batch, binary, quantize) in enumerate(specs):
        path = osp.join(work_dir, f'variant{index}.onnx')
        info = ovd.export_onnx(model, path, tuple(batch['inputs'].shape[2:]),
                               binary=binary)
        network = ovd.onnx_to_openvino(path)
        if quantize:
            network = quantize_int8(
                network, [batch['inputs'][:1].float().cpu().numpy()],
                scope=scope)
        compiled = ovd.compile_model(network, threads, **config)
        # own heads per variant: the stage timers patch them per model
        detector = ovd.OpenVINODetector(copy.deepcopy(model), compiled,
                                        info=info)
        detector.precision_report = runtime_precision_report(compiled)
        detector.ir_size_mb = ir_size_mb(
            network, osp.join(work_dir, f'variant{index}.xml'))
        if profile:
            detector.profiled_network = ovd.compile_model(
                network, threads, **config, **{PERF_COUNT_KEY: True})
        if fast_roi_align and hasattr(detector, 'roi_head'):
            from ..deploy.fusion import replace_real_ops
            replace_real_ops(detector.roi_head)
        if roi_head_openvino and detector.two_stage:
            _openvino_box_head(detector, batch, work_dir, index, threads,
                               quantize, profile, config)
        variants[name] = (detector, batch)
    return variants


def _openvino_box_head(detector: nn.Module, batch: dict, work_dir: str,
                       index: int, threads: Optional[int], int8: bool,
                       profile: bool, config: dict) -> None:
    """Put the box head of an :class:`~mmbnn.deploy.openvino.
    OpenVINODetector` on OpenVINO (INT8 with ``int8``, calibrated on the
    RoI features of ``batch``), for :func:`openvino_variants`."""
    from ..deploy import openvino_graph
    from ..deploy.int8 import runtime_precision_report
    from ..deploy.openvino_roi_head import (collect_roi_features,
                                            use_openvino_box_head)
    feats = collect_roi_features(detector, batch['inputs'],
                                 batch['data_samples']) if int8 else None
    folder = os.path.join(work_dir, f'variant{index}_box_head')
    os.makedirs(folder, exist_ok=True)
    head = use_openvino_box_head(detector, folder, threads, int8=int8,
                                 calib_feats=feats, **config)
    detector.box_head_precision_report = runtime_precision_report(
        head.compiled)
    if profile:
        detector.profiled_box_head = openvino_graph.compile_model(
            head.model, threads, **config, **{PERF_COUNT_KEY: True})


def ir_size_mb(model, xml_path: str) -> float:
    """The size of an OpenVINO model saved as IR: ``ov.save_model`` with
    float32 kept (``compress_to_fp16=False``; 1-bit weights are stored
    packed, NNCF's INT8 weights as 8-bit constants) to ``xml_path``, then
    the ``.xml`` + ``.bin`` file sizes in MB (10^6 bytes)."""
    from ..deploy.openvino_graph import save_openvino
    save_openvino(model, xml_path)
    stem = os.path.splitext(xml_path)[0]
    return sum(os.path.getsize(stem + ext) for ext in ('.xml', '.bin')) / 1e6


#: the CPU property that turns on OpenVINO's per-layer performance counters
#: (``openvino.properties.enable_profiling()``)
PERF_COUNT_KEY = 'PERF_COUNT'
#: :func:`layer_category` values, in report order
PROFILE_CATEGORIES = ('BinaryConvolution', 'INT8 conv/FC', 'FP32 conv/FC',
                      'binarization', '8-bit quantize/dequantize', 'reorder',
                      'eltwise/other')
#: runtime precisions of the CPU plugin's 8-bit layers
INT8_PRECISIONS = ('i8', 'u8')


#: why each option of ``benchmark_detector.py`` needs ``--backend openvino``
OPENVINO_ONLY_OPTIONS = {
    '--profile': "it reads OpenVINO's per-layer performance counters",
    '--roi-head-openvino': "it runs the RoI box head on OpenVINO's CPU "
    'plugin',
    '--hardware-limit': "it counts the MACs of OpenVINO's execution graphs",
}


def check_openvino_only(option: str, given: bool, backend: str) -> None:
    """Refuse an option of :data:`OPENVINO_ONLY_OPTIONS` with a backend
    other than OpenVINO.

    Args:
        option (str): The option, a key of :data:`OPENVINO_ONLY_OPTIONS`.
        given (bool): Whether it was given.
        backend (str): The ``--backend`` value.

    Raises:
        ValueError: For ``given`` with a backend other than ``'openvino'``.
    """
    if given and backend != 'openvino':
        raise ValueError(
            f'{option} needs --backend openvino (got --backend {backend}; '
            f"allowed values: 'torch', 'openvino'): "
            f'{OPENVINO_ONLY_OPTIONS[option]}')


def layer_category(layer_type: str, precision: str,
                   output_precisions: Sequence[str]) -> str:
    """The :data:`PROFILE_CATEGORIES` entry of a layer of the CPU plugin's
    execution graph.

    Args:
        layer_type (str): The layer's type (the profiling info's
            ``node_type``, the runtime model's ``layerType``), e.g.
            ``'BinaryConvolution'``, ``'Convolution'``, ``'FakeQuantize'``,
            ``'Subgraph'`` (fused element-wise ops), ``'Reorder'``.
        precision (str): Its runtime precision (lower case, e.g. ``'f32'``,
            ``'u8'``, ``'i8'``).
        output_precisions (Sequence[str]): The precisions it writes.

    Returns:
        str: ``'BinaryConvolution'``; ``'INT8 conv/FC'`` / ``'FP32
        conv/FC'`` for the other conv / FC layers
        (:data:`~mmbnn.deploy.int8.RUNTIME_LAYER_TYPES`) by runtime
        precision; ``'reorder'`` (layout / precision conversions,
        ``Reorder``); ``'binarization'`` for a layer writing 1-bit (``u1``)
        values, the binarize-and-pack step (a 2-level ``FakeQuantize``);
        ``'8-bit quantize/dequantize'`` for any other ``FakeQuantize`` and
        a layer that turns float values into 8-bit ones or back (NNCF's
        8-bit quantizers, which the plugin fuses into ``Subgraph`` layers);
        else ``'eltwise/other'``.
    """
    from ..deploy.int8 import RUNTIME_LAYER_TYPES
    if layer_type == 'BinaryConvolution':
        return 'BinaryConvolution'
    if layer_type in RUNTIME_LAYER_TYPES:
        return 'INT8 conv/FC' if precision in INT8_PRECISIONS else \
            'FP32 conv/FC'
    if layer_type == 'Reorder':
        return 'reorder'
    if 'u1' in output_precisions:
        return 'binarization'
    eight_bit_out = any(p in INT8_PRECISIONS for p in output_precisions)
    if layer_type == 'FakeQuantize' or \
            eight_bit_out != (precision in INT8_PRECISIONS):
        return '8-bit quantize/dequantize'
    return 'eltwise/other'


def _parts(compiled, request) -> Iterator[Tuple[object, object]]:
    """``(compiled model, infer request)`` of each separately compiled part
    of ``compiled`` (every segment of a
    :class:`~mmbnn.deploy.int8.SegmentedCompiledModel`)."""
    from ..deploy.int8 import SegmentedCompiledModel
    if isinstance(compiled, SegmentedCompiledModel):
        return zip((part for part, _ in compiled.segments), request.requests)
    return iter([(compiled, request)])


def _runtime_layers(compiled) -> Dict[str, dict]:
    """Name -> layer type, runtime precision, output precisions and output
    shape of each layer of a compiled model's execution graph."""
    layers = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        shape = op.get_output_partial_shape(0) if op.get_output_size() \
            else None
        layers[op.get_friendly_name()] = dict(
            type=info['layerType'].astype(str),
            precision=info['runtimePrecision'].astype(str).lower(),
            outputs=info['outputPrecisions'].astype(str).lower().split(','),
            shape=[d.get_length() for d in shape]
            if shape is not None and shape.is_static else None)
    return layers


def profile_network(compiled, inputs: Sequence[np.ndarray], runs: int = 5,
                    warmup: int = 1) -> dict:
    """Per-layer times of a network compiled with performance counters on.

    Runs ``warmup`` + ``runs`` inferences and reads
    ``request.get_profiling_info()`` after each timed one (of every
    segment's request for a
    :class:`~mmbnn.deploy.int8.SegmentedCompiledModel`); a layer's time is
    the median of its ``real_time`` over the ``runs``. Only executed layers
    are kept (the plugin also lists the ops it fused into others, with no
    time).

    Args:
        compiled: ``openvino.CompiledModel`` or
            :class:`~mmbnn.deploy.int8.SegmentedCompiledModel`, compiled
            with ``PERF_COUNT`` (:data:`PERF_COUNT_KEY`).
        inputs (Sequence[np.ndarray]): The network inputs.
        runs (int): Profiled inferences. Defaults to 5.
        warmup (int): Inferences before them. Defaults to 1.

    Returns:
        dict: ``runs``; ``layers``: per executed layer ``name``, ``type``
        (the layer type), ``exec_type`` (primitive and precision),
        ``precision`` (runtime precision), ``category``
        (:func:`layer_category`), ``shape`` (output shape, None if not
        static) and ``ms`` (median), in execution order; ``total_ms``: the
        sum of the layers' times; ``categories``: per
        :data:`PROFILE_CATEGORIES` entry ``layers`` and ``ms`` (summed over
        its layers; the categories sum to ``total_ms``).

    Raises:
        ValueError: For ``runs`` < 1 or ``warmup`` < 0.
    """
    if runs < 1 or warmup < 0:
        raise ValueError(f'runs={runs} must be >= 1 and warmup={warmup} '
                         '>= 0')
    request = compiled.create_infer_request()
    parts = list(_parts(compiled, request))
    runtime = [_runtime_layers(part) for part, _ in parts]
    times: Dict[Tuple[int, str], List[float]] = defaultdict(list)
    meta: Dict[Tuple[int, str], Tuple[str, str]] = {}
    for index in range(warmup + runs):
        request.infer([np.ascontiguousarray(x) for x in inputs])
        if index < warmup:
            continue
        for part, (_, part_request) in enumerate(parts):
            for item in part_request.get_profiling_info():
                if item.status != item.Status.EXECUTED:
                    continue
                key = (part, item.node_name)
                times[key].append(item.real_time.total_seconds() * 1e3)
                meta[key] = (item.node_type, item.exec_type)
    layers = []
    for (part, name), values in times.items():
        layer_type, exec_type = meta[part, name]
        known = runtime[part].get(name)
        if known is None:  # not in the execution graph: from its exec type
            suffix = exec_type.rsplit('_', 1)[-1].lower()
            known = dict(precision=suffix, outputs=[suffix], shape=None)
        values = values + [0.0] * (runs - len(values))
        # the execution graph's layer type where known: the profiling info
        # names some primitives by their implementation (an INT8 FC of a
        # dynamic-shape network is a 'FullyConnectedQuantizedLegacy')
        layers.append(dict(
            name=name, type=layer_type, exec_type=exec_type,
            precision=known['precision'],
            category=layer_category(known.get('type', layer_type),
                                    known['precision'], known['outputs']),
            shape=known['shape'], ms=statistics.median(values)))
    categories = {c: dict(layers=0, ms=0.0) for c in PROFILE_CATEGORIES}
    for layer in layers:
        categories[layer['category']]['layers'] += 1
        categories[layer['category']]['ms'] += layer['ms']
    return dict(runs=runs, layers=layers,
                total_ms=sum(layer['ms'] for layer in layers),
                categories=categories)


def profile_variants(variants: Dict[str, Tuple[nn.Module, dict]],
                     runs: int = 5) -> Dict[str, dict]:
    """:func:`profile_network` of every variant of
    :func:`openvino_variants` (``profile=True``) that has a
    ``profiled_network``, on the first image of its batch.

    A variant whose RoI box head runs on OpenVINO (``roi_head_openvino``)
    with a ``profiled_box_head`` has that network profiled too, on the RoI
    features of the first image of its last call with RoIs (the last timed
    one; a :func:`prepare_batch` batch holds copies of one image, so each
    image has the same number of RoIs): its layers (named
    ``box_head/<layer>``) and times are added to the variant's profile as
    one more part, and ``box_head_ms`` is their sum.

    Returns:
        dict: ``{variant name: profile}``, each also with
        ``binary_by_resolution`` (:func:`binary_by_resolution`).
    """
    profiles = {}
    for name, (model, data) in variants.items():
        compiled = getattr(model, 'profiled_network', None)
        if compiled is None:
            continue
        image = data['inputs'][:1].float().cpu().numpy()
        profile = profile_network(compiled, [image], runs)
        box_head = getattr(model, 'profiled_box_head', None)
        head = _submodule(model, 'roi_head.bbox_head')
        feats = getattr(head, 'last_input', None)
        if box_head is not None and feats is not None:
            # the RoIs of the first image: those of a batch come image by
            # image, the same number for each copy
            images = len(data['inputs'])
            if len(feats) % images == 0:
                feats = feats[:len(feats) // images]
            else:
                warnings.warn(f'{name}: {len(feats)} RoIs do not split '
                              f'evenly over {images} images; the box head '
                              'is profiled on all of them')
            _add_part(profile, profile_network(box_head, [feats], runs),
                      'box_head')
        profile['binary_by_resolution'] = binary_by_resolution(profile)
        profiles[name] = profile
    return profiles


def _add_part(profile: dict, part: dict, prefix: str) -> None:
    """Add the layers and times of the :func:`profile_network` profile
    ``part`` to ``profile`` (its layers named ``prefix/<layer>``; the sum
    of its times as ``<prefix>_ms``)."""
    for layer in part['layers']:
        name = layer['name'].lstrip('/')
        profile['layers'].append(dict(layer, name=f'{prefix}/{name}'))
    for category, entry in part['categories'].items():
        profile['categories'][category]['layers'] += entry['layers']
        profile['categories'][category]['ms'] += entry['ms']
    profile['total_ms'] += part['total_ms']
    profile[f'{prefix}_ms'] = part['total_ms']


def binary_by_resolution(profile: dict) -> List[dict]:
    """The ``BinaryConvolution`` layers of a :func:`profile_network`
    profile grouped by output spatial size.

    Returns:
        list[dict]: Per output size (largest first): ``resolution``
        (``'HxW'``, ``'unknown'`` without a static shape), ``layers``,
        ``ms`` and ``share`` (of all BinaryConvolution time, 0 when that
        is 0).
    """
    groups: Dict[str, dict] = {}
    for layer in profile['layers']:
        if layer['category'] != 'BinaryConvolution':
            continue
        shape = layer['shape']
        key = f'{shape[-2]}x{shape[-1]}' if shape and len(shape) == 4 \
            else 'unknown'
        group = groups.setdefault(key, dict(resolution=key, layers=0,
                                            ms=0.0, pixels=0))
        group['layers'] += 1
        group['ms'] += layer['ms']
        group['pixels'] = shape[-2] * shape[-1] if key != 'unknown' else 0
    total = sum(g['ms'] for g in groups.values())
    rows = sorted(groups.values(), key=lambda g: -g['pixels'])
    for row in rows:
        del row['pixels']
        row['share'] = row['ms'] / total if total > 0 else 0.0
    return rows


def format_profiles(profiles: Dict[str, dict], top: int = 10) -> str:
    """Markdown tables of :func:`profile_variants`: time and layer count per
    category for every variant, each variant's ``top`` slowest layers, and
    its BinaryConvolution time per output resolution."""
    names = list(profiles)
    lines = [
        '| category | ' + ' | '.join(f'{n} ms (layers)' for n in names) +
        ' |', '|---|' + '---:|' * len(names)
    ]
    for category in PROFILE_CATEGORIES:
        cells = [profiles[n]['categories'][category] for n in names]
        lines.append(f'| {category} | ' + ' | '.join(
            f"{c['ms']:.2f} ({c['layers']})" for c in cells) + ' |')
    lines.append('| total | ' + ' | '.join(
        f"{profiles[n]['total_ms']:.2f} ({len(profiles[n]['layers'])})"
        for n in names) + ' |')
    if any('box_head_ms' in profiles[n] for n in names):
        lines.append('| of which RoI box head | ' + ' | '.join(
            f"{profiles[n]['box_head_ms']:.2f}" if 'box_head_ms' in
            profiles[n] else '-' for n in names) + ' |')
    for name in names:
        profile = profiles[name]
        slowest = sorted(profile['layers'],
                         key=lambda layer: -layer['ms'])[:top]
        lines += [
            '', f'{name}: top {len(slowest)} layers (median of '
            f"{profile['runs']} profiled inferences)", '',
            '| layer | type | exec type | precision | output | ms |',
            '|---|---|---|---|---|---:|'
        ]
        for layer in slowest:
            shape = 'x'.join(map(str, layer['shape'])) if layer['shape'] \
                else '-'
            lines.append(
                f"| {layer['name']} | {layer['type']} | "
                f"{layer['exec_type']} | {layer['precision']} | {shape} | "
                f"{layer['ms']:.3f} |")
        groups = profile.get('binary_by_resolution') or []
        if groups:
            lines += ['', f'{name}: BinaryConvolution time per output '
                      'resolution', '',
                      '| output HxW | layers | ms | share |',
                      '|---|---:|---:|---:|']
            lines += [f"| {g['resolution']} | {g['layers']} | "
                      f"{g['ms']:.3f} | {g['share']:.0%} |" for g in groups]
    return '\n'.join(lines)
