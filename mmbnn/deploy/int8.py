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

The same applies to a full-precision (``_fp_``) detector: its INT8 network
is the INT8 baseline.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

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


def calibration_inputs(detector: nn.Module, cfg, shape: Sequence[int],
                       num_images: int = DEFAULT_CALIB_IMAGES
                       ) -> List[np.ndarray]:
    """``num_images`` network inputs from the config's test (or val)
    dataset: through its pipeline and ``detector.data_preprocessor``, then
    :func:`fit_to_shape`. The images are spread evenly over the dataset.

    Args:
        detector (nn.Module): The detector (for its data preprocessor).
        cfg (Config): The config whose dataset is read.
        shape (Sequence[int]): The network's static input ``(H, W)``.
        num_images (int): How many. Defaults to :data:`DEFAULT_CALIB_IMAGES`.

    Returns:
        list[np.ndarray]: ``(1, 3, H, W)`` float32 arrays.

    Raises:
        ValueError: Without a dataset (:func:`calibration_dataset_cfg`), or
            with fewer images than ``num_images`` (the key and both counts
            are named).
    """
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    if num_images < 1:
        raise ValueError(f'calib_images={num_images} must be >= 1')
    key, dataset_cfg = calibration_dataset_cfg(cfg)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) < num_images:
        raise ValueError(
            f'{key} has {len(dataset)} images, fewer than the '
            f'{num_images} calibration images asked for (calib_images / '
            '--calib-images)')
    indices = np.linspace(0, len(dataset) - 1, num_images).round()
    inputs = []
    with torch.no_grad():
        for index in indices.astype(int):
            batch = detector.data_preprocessor(
                pseudo_collate([dataset[int(index)]]), False)['inputs']
            image = fit_to_shape(batch[0].float().cpu(), shape)
            inputs.append(image[None].numpy())
    return inputs


def ignored_types(model) -> List[str]:
    """The op types of an OpenVINO ``model`` NNCF leaves alone: all but
    :data:`QUANTIZED_TYPES` (and the graph's inputs, constants, outputs)."""
    types = {op.get_type_name() for op in model.get_ordered_ops()}
    return sorted(types - set(QUANTIZED_TYPES) - set(_GRAPH_TYPES))


def quantize_int8(model, inputs: Sequence[np.ndarray],
                  fast_bias_correction: bool = True):
    """Quantize the real-valued convs and FCs of an OpenVINO model to INT8.

    Args:
        model (openvino.Model): From :func:`~mmbnn.deploy.openvino.
            onnx_to_openvino` (its export info is kept).
        inputs (Sequence[np.ndarray]): Calibration inputs, e.g.
            :func:`calibration_inputs`.
        fast_bias_correction (bool): NNCF's fast bias correction (else
            its full one). Defaults to True.

    Returns:
        openvino.Model: The quantized model; its ``BinaryConvolution`` s
        and binarizations are unchanged.
    """
    import nncf
    if not len(inputs):
        raise ValueError('INT8 quantization needs at least one calibration '
                         'input')
    nncf.set_log_level(logging.ERROR)
    binary_before = _count_types(model)
    quantized = nncf.quantize(
        model, nncf.Dataset(list(inputs)),
        preset=nncf.QuantizationPreset.PERFORMANCE,
        subset_size=len(inputs),
        fast_bias_correction=fast_bias_correction,
        ignored_scope=nncf.IgnoredScope(types=ignored_types(model),
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


def export_int8(detector: nn.Module, cfg, onnx_path: str, xml_path: str,
                shape: Sequence[int], num_images: int = DEFAULT_CALIB_IMAGES,
                binary: bool = True,
                inputs: Optional[Sequence[np.ndarray]] = None) -> Dict:
    """Export ``detector``'s network to ONNX, quantize it to INT8 on
    calibration images of ``cfg``'s dataset and save the OpenVINO IR.

    Args:
        detector (nn.Module): The deploy detector
            (:func:`~mmbnn.deploy.openvino.load_detector`).
        cfg (Config): Its config (the calibration dataset's).
        onnx_path (str): The ONNX file written first.
        xml_path (str): The INT8 IR (``.xml`` + ``.bin``).
        shape (Sequence[int]): Static input ``(H, W)``.
        num_images (int): Calibration images. Defaults to
            :data:`DEFAULT_CALIB_IMAGES`.
        binary (bool): Binarized convs as ``BinaryConvolution`` (else
            float convs on +-1 values, which are then quantized too).
        inputs (Sequence[np.ndarray], optional): Calibration inputs to use
            instead of the dataset's.

    Returns:
        dict: The export info (:func:`~mmbnn.deploy.openvino.export_onnx`)
        with ``int8`` (``calib_images``) added, as stored in the IR.
    """
    import json

    from .openvino import (EXPORT_INFO_KEY, export_onnx, onnx_to_openvino,
                           save_openvino)
    shape = tuple(shape)
    if inputs is None:
        inputs = calibration_inputs(detector, cfg, shape, num_images)
    info = export_onnx(detector, onnx_path, shape, binary=binary)
    model = quantize_int8(onnx_to_openvino(onnx_path), inputs)
    info = dict(info, int8=dict(calib_images=len(inputs)))
    model.set_rt_info(json.dumps(info), ['mmbnn', EXPORT_INFO_KEY])
    save_openvino(model, xml_path)
    return info
