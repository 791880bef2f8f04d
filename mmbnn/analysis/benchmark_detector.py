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
"""
import statistics
import time
from contextlib import ExitStack, contextmanager
from typing import Callable, Dict, List, Optional, Sequence, Tuple

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
                      int8: bool = False
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

    Returns:
        dict: ``{'FP32 (OpenVINO)': ..., ['INT8 (OpenVINO)': ...,]
        ['binary float convs (OpenVINO)': ...,] 'binary (OpenVINO)': ...,
        ['binary+INT8 (OpenVINO)': ...]}``. Each detector has
        ``precision_report``: :func:`~mmbnn.deploy.int8.
        runtime_precision_report` of its compiled network.
    """
    import copy
    import os.path as osp

    from ..deploy import convert_to_deploy
    from ..deploy import openvino as ovd
    from ..deploy.int8 import quantize_int8, runtime_precision_report
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
                network, [batch['inputs'][:1].float().cpu().numpy()])
        compiled = ovd.compile_model(network, threads, **config)
        # own heads per variant: the stage timers patch them per model
        detector = ovd.OpenVINODetector(copy.deepcopy(model), compiled,
                                        info=info)
        detector.precision_report = runtime_precision_report(compiled)
        if fast_roi_align and hasattr(detector, 'roi_head'):
            from ..deploy.fusion import replace_real_ops
            replace_real_ops(detector.roi_head)
        variants[name] = (detector, batch)
    return variants
