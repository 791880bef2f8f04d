# Copyright (c) mmbnn contributors. All rights reserved.
"""INT8 post-training quantization of an exported detector network.

The OpenVINO model of :func:`~mmbnn.deploy.openvino.onnx_to_openvino`
(backbone, neck, dense heads' raw outputs) is quantized with NNCF
(``nncf.quantize``): every real-valued ``Convolution`` / ``GroupConvolution``
/ ``MatMul`` gets 8-bit weights and an 8-bit input ``FakeQuantize`` whose
range is calibrated on images of the config's own test (or val) dataset,
preprocessed as the export's input. Every other op type is in NNCF's
ignored scope: the 1-bit ``BinaryConvolution`` s and their 2-level
binarizing ``FakeQuantize`` s stay as they are, and the element-wise layers
between them (BN, RPReLU, residual adds, L2 norm) stay float32, so the
values a binarization compares with its threshold are not rounded to 8 bits.
OpenVINO's CPU plugin then runs the quantized convs as INT8 primitives
(:func:`runtime_precision_report` reads that off the execution graph).

A quantized binary network is compiled as a chain of INT8 and 1-bit
segments (:func:`compile_segments`, chosen by
:func:`~mmbnn.deploy.openvino.compile_model`): compiled as one model, the
plugin's low precision transformations take time exponential in the depth
of its residual binary trunk.

The same applies to a full-precision (``_fp_``) detector: its INT8 network
is the INT8 baseline.
"""
import logging
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: calibration images by default (NNCF's own default subset size)
DEFAULT_CALIB_IMAGES = 300
#: the dataloaders calibration images are taken from, in this order
CALIB_DATALOADERS = ('test_dataloader', 'val_dataloader')
#: OpenVINO op types NNCF quantizes (everything else is ignored)
QUANTIZED_TYPES = ('Convolution', 'GroupConvolution', 'MatMul')
#: values of :func:`quantize_int8`'s ``scope`` (``int8_scope``,
#: ``--int8-scope``): the real convs / FCs with no 1-bit layer downstream,
#: or every one
INT8_SCOPES = ('after_binary', 'all')
DEFAULT_INT8_SCOPE = 'after_binary'
#: op types that are neither quantized nor ignored (graph inputs / outputs)
_GRAPH_TYPES = ('Parameter', 'Constant', 'Result')
#: conv / FC layer types of the CPU plugin's execution graph
RUNTIME_LAYER_TYPES = ('Convolution', 'GroupConvolution', 'Deconvolution',
                       'FullyConnected', 'MatMul', 'BinaryConvolution')


def calibration_dataset_cfg(cfg) -> Tuple[str, dict]:
    """The dataset config calibration images come from.

    Returns:
        tuple: The key (``'test_dataloader.dataset'`` or
        ``'val_dataloader.dataset'``) and its dataset config.

    Raises:
        ValueError: If neither dataloader has a dataset.
    """
    for key in CALIB_DATALOADERS:
        loader = cfg.get(key, None)
        dataset = loader.get('dataset', None) if loader else None
        if dataset:
            return f'{key}.dataset', dataset
    raise ValueError(
        'INT8 calibration needs images from the config\'s dataset, but it '
        'has no ' + ' or '.join(f'{key}.dataset' for key in CALIB_DATALOADERS))


def fit_to_shape(image: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """A preprocessed ``(C, H, W)`` image as the static network input
    ``shape`` ``(H, W)``: zero-padded at the bottom / right as
    :class:`~mmbnn.deploy.openvino.OpenVINODetector` pads it; an image that
    fits only transposed (a portrait image on a landscape network) is
    transposed first, a larger one cropped (for calibration, where the
    activation ranges are what counts)."""
    height, width = shape
    if (image.shape[1] > height or image.shape[2] > width) and \
            image.shape[1] <= width and image.shape[2] <= height:
        image = image.transpose(1, 2)
    image = image[:, :height, :width]
    return F.pad(image, (0, width - image.shape[2], 0,
                         height - image.shape[1]))


def calibration_batches(detector: nn.Module, cfg,
                        num_images: int = DEFAULT_CALIB_IMAGES,
                        cap: bool = False) -> Iterator[dict]:
    """``num_images`` images of the config's test (or val) dataset, spread
    evenly over it, each as a batch of one through its pipeline and
    ``detector.data_preprocessor`` (``inputs`` and ``data_samples``).

    Args:
        detector (nn.Module): The detector (for its data preprocessor).
        cfg (Config): The config whose dataset is read.
        num_images (int): How many. Defaults to :data:`DEFAULT_CALIB_IMAGES`.
        cap (bool): Use all images of a smaller dataset (with a warning)
            instead of refusing it. Defaults to False.

    Yields:
        dict: A preprocessed batch of one image.

    Raises:
        ValueError: Without a dataset (:func:`calibration_dataset_cfg`), or
            with fewer images than ``num_images`` and no ``cap`` (the key
            and both counts are named); raised before the first batch.
    """
    from mmdet.registry import DATASETS
    from mmengine.logging import print_log
    from mmengine.registry import init_default_scope
    if num_images < 1:
        raise ValueError(f'calib_images={num_images} must be >= 1')
    key, dataset_cfg = calibration_dataset_cfg(cfg)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) < num_images:
        message = (f'{key} has {len(dataset)} images, fewer than the '
                   f'{num_images} calibration images asked for')
        if not cap:
            raise ValueError(f'{message} (calib_images / --calib-images)')
        print_log(f'{message}: calibrating on all {len(dataset)}',
                  logger='current', level=logging.WARNING)
        num_images = len(dataset)
    return _preprocessed(detector, dataset,
                         np.linspace(0, len(dataset) - 1, num_images).round())


def _preprocessed(detector: nn.Module, dataset,
                  indices: np.ndarray) -> Iterator[dict]:
    from mmengine.dataset import pseudo_collate
    for index in indices.astype(int):
        with torch.no_grad():
            batch = detector.data_preprocessor(
                pseudo_collate([dataset[int(index)]]), False)
        yield batch


def calibration_inputs(detector: nn.Module, cfg, shape: Sequence[int],
                       num_images: int = DEFAULT_CALIB_IMAGES
                       ) -> List[np.ndarray]:
    """The network inputs of :func:`calibration_batches`, each fitted to
    the static input ``shape`` ``(H, W)`` (:func:`fit_to_shape`).

    Returns:
        list[np.ndarray]: ``(1, 3, H, W)`` float32 arrays.

    Raises:
        ValueError: As :func:`calibration_batches`.
    """
    return [
        fit_to_shape(batch['inputs'][0].float().cpu(), shape)[None].numpy()
        for batch in calibration_batches(detector, cfg, num_images)
    ]


def ignored_types(model) -> List[str]:
    """The op types of an OpenVINO ``model`` NNCF leaves alone: all but
    :data:`QUANTIZED_TYPES` (and the graph's inputs, constants, outputs)."""
    types = {op.get_type_name() for op in model.get_ordered_ops()}
    return sorted(types - set(QUANTIZED_TYPES) - set(_GRAPH_TYPES))


def _is_one_bit(op) -> bool:
    """A ``BinaryConvolution`` or a 2-level (binarizing) ``FakeQuantize``."""
    kind = op.get_type_name()
    return kind == 'BinaryConvolution' or (
        kind == 'FakeQuantize' and op.get_attributes()['levels'] == 2)


def ops_before_binary(model) -> List[str]:
    """The friendly names of the :data:`QUANTIZED_TYPES` ops of ``model``
    that have a 1-bit layer (``BinaryConvolution`` or 2-level
    ``FakeQuantize``) downstream of them: the real convs / FCs that feed a
    binary trunk (a stem conv, a downsample shortcut, an FPN conv under a
    binary RPN conv).

    One pass over the ops in reverse topological order, so linear in the
    size of the graph: an op reaches a 1-bit layer when one of its
    consumers is one or reaches one.
    """
    reaches: Dict[str, bool] = {}
    names = []
    for op in reversed(model.get_ordered_ops()):
        downstream = any(
            _is_one_bit(target.get_node()) or
            reaches.get(target.get_node().get_name(), False)
            for output in op.outputs()
            for target in output.get_target_inputs())
        reaches[op.get_name()] = downstream
        if downstream and op.get_type_name() in QUANTIZED_TYPES:
            names.append(op.get_friendly_name())
    return names[::-1]


def check_int8_scope(scope: str, key: str = 'scope') -> str:
    """``scope`` if it is one of :data:`INT8_SCOPES`, else a ValueError
    naming the option ``key`` and the allowed values."""
    from ..utils import check_choice
    return check_choice(key, scope, INT8_SCOPES)


def quantize_int8(model, inputs: Sequence[np.ndarray],
                  fast_bias_correction: bool = True,
                  scope: str = DEFAULT_INT8_SCOPE):
    """Quantize the real-valued convs and FCs of an OpenVINO model to INT8.

    Args:
        model (openvino.Model): From :func:`~mmbnn.deploy.openvino.
            onnx_to_openvino` (its export info is kept).
        inputs (Sequence[np.ndarray]): Calibration inputs, e.g.
            :func:`calibration_inputs`.
        fast_bias_correction (bool): NNCF's fast bias correction (else
            its full one). Defaults to True.
        scope (str): Which real convs / FCs (:data:`INT8_SCOPES`):
            ``'after_binary'`` only those with no 1-bit layer downstream
            (:func:`ops_before_binary` stay float32: the stem and shortcut
            convs that feed a binary trunk), so the network compiles as few
            INT8 / 1-bit segments; ``'all'`` every one. The same on a
            network without 1-bit layers. Defaults to
            :data:`DEFAULT_INT8_SCOPE`.

    Returns:
        openvino.Model: The quantized model; its ``BinaryConvolution`` s
        and binarizations are unchanged.
    """
    import nncf
    check_int8_scope(scope)
    if not len(inputs):
        raise ValueError('INT8 quantization needs at least one calibration '
                         'input')
    nncf.set_log_level(logging.ERROR)
    binary_before = _count_types(model)
    names = ops_before_binary(model) if scope == 'after_binary' else []
    quantized = nncf.quantize(
        model, nncf.Dataset(list(inputs)),
        preset=nncf.QuantizationPreset.PERFORMANCE,
        subset_size=len(inputs),
        fast_bias_correction=fast_bias_correction,
        ignored_scope=nncf.IgnoredScope(names=names,
                                        types=ignored_types(model),
                                        validate=False))
    binary_after = _count_types(quantized)
    if binary_after != binary_before:
        raise RuntimeError(
            f'INT8 quantization changed the 1-bit layers: {binary_before} '
            f'-> {binary_after} (BinaryConvolution, 2-level FakeQuantize)')
    return quantized


def _count_types(model) -> Tuple[int, int]:
    """(BinaryConvolution ops, 2-level FakeQuantize ops) of a model."""
    convs = binarizations = 0
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        convs += kind == 'BinaryConvolution'
        binarizations += kind == 'FakeQuantize' and \
            op.get_attributes()['levels'] == 2
    return convs, binarizations


def runtime_precision_report(compiled) -> Dict:
    """How the CPU plugin runs a compiled model's convs and FCs, from its
    execution graph (``get_runtime_model``).

    Returns:
        dict: ``binary``, ``int8`` and ``fp32``: the names of the conv /
        FC layers (:data:`RUNTIME_LAYER_TYPES`) run as
        ``BinaryConvolution``, with runtime precision i8 / u8, and with
        another (float) runtime precision; ``layers``: the number of layers
        of the whole graph per runtime precision (lower case).
    """
    report = dict(binary=[], int8=[], fp32=[], layers={})
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer = info['layerType'].astype(str)
        precision = info['runtimePrecision'].astype(str).lower()
        report['layers'][precision] = report['layers'].get(precision, 0) + 1
        if layer not in RUNTIME_LAYER_TYPES:
            continue
        kind = 'binary' if layer == 'BinaryConvolution' else \
            'int8' if precision in ('i8', 'u8') else 'fp32'
        report[kind].append(op.get_friendly_name())
    return report


def format_precision_report(report: Dict) -> str:
    """One line: the conv / FC counts of :func:`runtime_precision_report`."""
    return (f'{len(report["binary"])} BinaryConvolution, '
            f'{len(report["int8"])} INT8, {len(report["fp32"])} FP32 '
            'conv/FC layers')


#: values of ``compile_model``'s ``segments`` option (see
#: :func:`compile_segments`)
SEGMENT_MODES = ('auto', 'single')


def _is_constant_like(op, cache: Dict[int, bool]) -> bool:
    """Whether ``op`` computes a constant (a ``Constant`` or ops on
    constants only, e.g. the decompression of NNCF's 8-bit weights)."""
    key = op.get_name()
    if key not in cache:
        if op.get_type_name() == 'Constant':
            cache[key] = True
        elif op.get_type_name() in ('Parameter', 'Result') or \
                not op.get_input_size():
            cache[key] = False
        else:
            cache[key] = all(
                _is_constant_like(value.get_node(), cache)
                for value in op.input_values())
    return cache[key]


def _precision_kind(op, constants: Dict[int, bool]) -> Optional[str]:
    """``'binary'`` for a ``BinaryConvolution`` or a 2-level
    ``FakeQuantize``, ``'int8'`` for a ``FakeQuantize`` of more levels on a
    non-constant input (an activation quantizer), else None."""
    kind = op.get_type_name()
    if kind == 'BinaryConvolution':
        return 'binary'
    if kind != 'FakeQuantize':
        return None
    if op.get_attributes()['levels'] == 2:
        return 'binary'
    data = op.input_value(0).get_node()
    return None if _is_constant_like(data, constants) else 'int8'


def segment_stages(model) -> Dict[int, int]:
    """The segment (stage) of each non-constant op of ``model``, keyed by
    ``op.get_name()``, for :func:`compile_segments`.

    Stages are numbered in data-flow order: an op is in the latest stage of
    its non-constant inputs (graph inputs: stage 0), moved to the next stage
    when it is an 8-bit activation quantizer in an odd stage or a
    ``BinaryConvolution`` / 2-level binarization in an even one. So even
    stages hold the INT8 layers and no binarization, odd ones the 1-bit
    layers and no 8-bit quantizer, and data only flows to the same or a
    later stage. When the first stage has no 8-bit quantizer (the real
    layers before the trunk were left float32, e.g. by
    :func:`quantize_int8`'s ``scope='after_binary'``), it is part of the
    first 1-bit stage: no segment boundary at the input resolution.
    """
    constants: Dict[int, bool] = {}
    stages: Dict[int, int] = {}
    first_int8 = False
    for op in model.get_ordered_ops():
        if _is_constant_like(op, constants):
            continue
        stage = max((stages[value.get_node().get_name()]
                     for value in op.input_values()
                     if value.get_node().get_name() in stages), default=0)
        kind = _precision_kind(op, constants)
        if (kind == 'binary' and stage % 2 == 0) or \
                (kind == 'int8' and stage % 2 == 1):
            stage += 1
        first_int8 |= kind == 'int8' and stage == 0
        stages[op.get_name()] = stage
    if not first_int8:
        stages = {name: max(stage, 1) for name, stage in stages.items()}
    return stages


def needs_segments(model) -> bool:
    """Whether ``model`` has both 1-bit layers and 8-bit activation
    quantizers (a quantized binary network), the case
    :func:`compile_segments` splits."""
    constants: Dict[int, bool] = {}
    kinds = {_precision_kind(op, constants)
             for op in model.get_ordered_ops()}
    return {'binary', 'int8'} <= kinds


class _RuntimeOps:
    """The execution graphs of several compiled models as one op list
    (what :func:`runtime_precision_report` reads)."""

    def __init__(self, models) -> None:
        self.models = models

    def get_ordered_ops(self) -> list:
        return [op for model in self.models for op in model.get_ordered_ops()]


class SegmentedCompiledModel:
    """A network compiled as a chain of separately compiled segments
    (:func:`compile_segments`), run one after the other.

    It offers what the project uses of an ``openvino.CompiledModel``:
    ``outputs`` (output indices), ``create_infer_request()`` (whose
    ``infer(inputs)`` returns the outputs as a list of arrays),
    ``__call__`` and ``get_runtime_model()`` (the segments' execution
    graphs, for :func:`runtime_precision_report` and
    :func:`~mmbnn.deploy.openvino.runtime_conv_report`).

    Args:
        segments (list): ``(compiled model, sources)`` per segment in run
            order; ``sources[i]`` names where input ``i`` comes from:
            ``('input', index)`` (a network input) or ``(segment,
            output)``.
        outputs (list): ``(segment, output)`` of each network output.
    """

    def __init__(self, segments: List[Tuple[object, List[Tuple]]],
                 outputs: List[Tuple[int, int]]) -> None:
        self.segments = segments
        self.output_sources = outputs
        self.outputs = list(range(len(outputs)))

    def create_infer_request(self) -> '_SegmentedInferRequest':
        return _SegmentedInferRequest(self)

    def __call__(self, inputs: Sequence[np.ndarray]) -> List[np.ndarray]:
        return self.create_infer_request().infer(inputs)

    def get_runtime_model(self) -> _RuntimeOps:
        return _RuntimeOps([compiled.get_runtime_model()
                            for compiled, _ in self.segments])


class _SegmentedInferRequest:
    """One infer request per segment of a :class:`SegmentedCompiledModel`."""

    def __init__(self, model: SegmentedCompiledModel) -> None:
        self.model = model
        self.requests = [compiled.create_infer_request()
                         for compiled, _ in model.segments]

    def infer(self, inputs: Sequence[np.ndarray]) -> List[np.ndarray]:
        values = {('input', index): np.ascontiguousarray(value)
                  for index, value in enumerate(inputs)}
        for segment, (request, (compiled, sources)) in enumerate(
                zip(self.requests, self.model.segments)):
            results = request.infer([values[source] for source in sources],
                                    share_inputs=True)
            for index in range(len(compiled.outputs)):
                values[segment, index] = results[index]
        return [values[source] for source in self.model.output_sources]


def compile_segments(model, properties: Dict) -> SegmentedCompiledModel:
    """Compile a quantized binary network for the CPU plugin as segments.

    The CPU plugin runs its low precision transformations on a model with
    8-bit quantizers; one of them checks, for every ``FakeQuantize`` (the
    2-level binarizations included), whether its input is computed from
    constants by following every path upwards until a graph input or a
    ``Convolution`` / ``GroupConvolution`` / ``MatMul``.
    ``BinaryConvolution`` does not end a path, so in a binary trunk with
    residual adds (and activations whose input feeds two branches) the
    number of paths doubles with each block and compiling the network as
    one model takes longer than any use allows. Compiled as the stages of
    :func:`segment_stages`, the 1-bit segments have no 8-bit quantizer
    (the transformations do not run on them) and each INT8 segment starts
    at graph inputs (every path ends there).

    Args:
        model (openvino.Model): The network (not changed: a clone is cut).
        properties (dict): CPU properties for every segment.

    Returns:
        SegmentedCompiledModel: The compiled segments in data-flow order.
    """
    import openvino as ov
    import openvino.opset13 as ops
    model = model.clone()
    stages = segment_stages(model)
    parameters = {p.get_name(): index for index, p in
                  enumerate(model.get_parameters())}
    ordered = [op for op in model.get_ordered_ops()
               if op.get_name() in stages]
    # cross-stage edges, collected before the graph is cut
    edges = []
    for op in ordered:
        stage = stages[op.get_name()]
        for value_input in op.inputs():
            source = value_input.get_source_output()
            producer = stages.get(source.get_node().get_name(), stage)
            if producer != stage:
                edges.append((value_input, source, stage))
    num_stages = max(stages.values()) + 1
    stage_params: List[list] = [[] for _ in range(num_stages)]
    stage_sources: List[list] = [[] for _ in range(num_stages)]
    stage_results: List[list] = [[] for _ in range(num_stages)]
    result_index: Dict[Tuple[str, int], Tuple[int, int]] = {}
    new_params: Dict[Tuple[str, int, int], object] = {}
    for value_input, source, stage in edges:
        node = source.get_node()
        key = (node.get_name(), source.get_index(), stage)
        if key not in new_params:
            param = ops.parameter(source.get_partial_shape(),
                                  source.get_element_type())
            new_params[key] = param
            stage_params[stage].append(param)
            if node.get_name() in parameters:
                stage_sources[stage].append(
                    ('input', parameters[node.get_name()]))
            else:
                out_key = (node.get_name(), source.get_index())
                if out_key not in result_index:
                    producer = stages[node.get_name()]
                    result = ops.result(source)
                    result_index[out_key] = (producer,
                                             len(stage_results[producer]))
                    stage_results[producer].append(result)
                stage_sources[stage].append(result_index[out_key])
        value_input.replace_source_output(new_params[key].output(0))
    outputs = []
    for result in model.get_results():
        stage = stages[result.get_name()]
        outputs.append((stage, len(stage_results[stage])))
        stage_results[stage].append(result)
    for index, param in enumerate(model.get_parameters()):
        stage = stages[param.get_name()]
        stage_params[stage].insert(index, param)
        stage_sources[stage].insert(index, ('input', index))
    core = ov.Core()
    segments, renumber = [], {}
    for stage in range(num_stages):
        if not stage_results[stage]:
            continue
        renumber[stage] = len(segments)
        sources = [source if source[0] == 'input' else
                   (renumber[source[0]], source[1])
                   for source in stage_sources[stage]]
        segment = ov.Model(stage_results[stage], stage_params[stage],
                           f'segment{stage}')
        segments.append((core.compile_model(segment, 'CPU', properties),
                         sources))
    return SegmentedCompiledModel(
        segments, [(renumber[stage], index) for stage, index in outputs])


def add_int8_options(parser) -> None:
    """Add ``--calib-images`` and ``--int8-scope`` (the options that go
    with a tool's ``--int8``) to an ``argparse`` parser."""
    parser.add_argument(
        '--calib-images', type=int, default=None, metavar='N',
        help="with --int8: calibration images from the config's test (or "
        f'val) dataset (default {DEFAULT_CALIB_IMAGES})')
    parser.add_argument(
        '--int8-scope', default=None, choices=INT8_SCOPES,
        help='with --int8: which real-valued convs and FCs are quantized: '
        "'after_binary' (default) those with no binarized layer downstream "
        '(the layers after the binary trunk; stem and shortcut convs that '
        "feed it stay float32, fewer INT8 / 1-bit segments), 'all' every "
        'one; the same on a network without binarized layers')
