# Copyright (c) mmbnn contributors. All rights reserved.
"""Binary detectors on OpenVINO (CPU): :class:`OpenVINODetector`, whose
network (backbone, neck, the dense heads' raw outputs) runs on OpenVINO with
every binarized conv an XNOR-popcount ``BinaryConvolution``, the
post-processing in PyTorch.

The pieces live in :mod:`.onnx_export` (the ONNX form),
:mod:`.openvino_graph` (the OpenVINO form), :mod:`.network_split` (the
split detector and its float64 reference) and :mod:`.loading` (the model
the export starts from); their names are importable from here too. How a
binarized conv is written and why: ``docs/en/advanced_guides/openvino.md``.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .int8 import DEFAULT_CALIB_IMAGES, DEFAULT_INT8_SCOPE
from .loading import load_detector, load_student_config, static_input_shape
from .network_split import (DetectorTensorPart, Float64NetworkDetector,
                            NetworkSplitDetector, output_names,
                            split_outputs)
from .onnx_export import (BINARY_CHANNEL_MULTIPLE, BINARY_CONV_OP,
                          EXPORT_INFO_KEY, ONNX_DOMAIN, ONNX_DOMAIN_VERSION,
                          ONNX_OPSET, FloatConvOnSigns, OnnxBinaryConv,
                          OnnxRPReLU, export_onnx, prepare_for_export,
                          read_export_info)
from .openvino_graph import (FLOAT_CONV_TYPES, FLT_LOWEST, JIT_UR_W,
                             build_binary_conv, check_bit_order,
                             compile_model, jit_supports_padding,
                             onnx_to_openvino, padded_tap_sums,
                             runtime_conv_report, save_openvino,
                             threshold_below)

__all__ = [
    'BINARY_CHANNEL_MULTIPLE', 'BINARY_CONV_OP', 'EXPORT_INFO_KEY',
    'FLOAT_CONV_TYPES', 'FLT_LOWEST', 'INT8_MODEL_NAME', 'JIT_UR_W',
    'ONNX_DOMAIN', 'ONNX_DOMAIN_VERSION', 'ONNX_OPSET', 'DetectorTensorPart',
    'Float64NetworkDetector', 'FloatConvOnSigns', 'NetworkSplitDetector',
    'OnnxBinaryConv', 'OnnxRPReLU', 'OpenVINODetector', 'build_binary_conv',
    'check_bit_order', 'compile_model', 'export_onnx',
    'jit_supports_padding', 'load_detector', 'network_mismatches',
    'onnx_to_openvino', 'output_names', 'padded_tap_sums',
    'prepare_for_export', 'read_export_info', 'runtime_conv_report',
    'save_openvino', 'split_outputs', 'static_input_shape',
    'threshold_below'
]


#: the IR :meth:`OpenVINODetector.from_checkpoint_int8` writes in its work
#: dir
INT8_MODEL_NAME = 'detector_int8.xml'
#: export info keys :func:`network_mismatches` compares
_INTERFACE_KEYS = ('layout', 'output_names', 'binary', 'binary_convs',
                   'binary_nodes')


class OpenVINODetector(NetworkSplitDetector):
    """An mmdet detector whose tensor part runs on OpenVINO (CPU).

    The compiled network (:func:`export_onnx` -> :func:`onnx_to_openvino`)
    computes the features and the dense heads' raw outputs; the rest runs
    in PyTorch with the detector's own modules (RoIAlign and the box head's
    FCs of a two-stage detector included), as in
    :class:`NetworkSplitDetector`.

    The network has a static input shape (batch 1): each image is padded
    at the bottom / right with zeros (the data preprocessor's pad value)
    to it, as mmdeploy's static models do; an image larger than it is an
    error (with ``export_dir``, a portrait image that fits the transposed
    shape runs on a network exported for it). The padding changes what
    the convs see near those borders, so detections there can differ a
    little from the PyTorch model's, whose batch is padded only to the size
    divisor. With ``per_shape`` the detector is instead exported and
    compiled once per input shape it meets (cached; the given network
    serves its own shape): no extra padding, the PyTorch model's outputs to
    float rounding.

    Args:
        detector (nn.Module): The PyTorch detector (its deploy form), for
            the data preprocessor, the heads' post-processing, ``cfg`` and
            ``dataset_meta``.
        network: The OpenVINO model: an ``.onnx`` / ``.xml`` path, an
            ``openvino.Model`` from :func:`onnx_to_openvino` or an
            ``openvino.CompiledModel`` of one (then give ``info``).
        threads (int, optional): ``INFERENCE_NUM_THREADS`` of OpenVINO.
        info (dict, optional): The export info (:func:`read_export_info`);
            read from ``network`` when not given.
        export_dir (str, optional): Where networks of other input shapes
            are exported when needed (``detector_HxW.onnx``): the
            transposed static shape for portrait images, or every shape in
            per-shape mode. None: only the given network runs.
        per_shape (bool): One network per input shape met (needs
            ``export_dir``). Each new shape costs an export and a compile,
            and every compiled network is kept: meant for test sets with
            few shapes (a keep-ratio VOC test set makes a few dozen).
            Defaults to False.
    """

    def __init__(self, detector: nn.Module, network,
                 threads: Optional[int] = None,
                 info: Optional[Dict] = None,
                 export_dir: Optional[str] = None,
                 per_shape: bool = False) -> None:
        import openvino as ov

        from .int8 import SegmentedCompiledModel
        if isinstance(network, str):
            network = onnx_to_openvino(network) if network.endswith(
                '.onnx') else ov.Core().read_model(network)
        compiled = isinstance(network,
                              (ov.CompiledModel, SegmentedCompiledModel))
        if compiled and info is None:
            raise ValueError('a compiled network needs its export info '
                             '(info=read_export_info(model))')
        if info is None:
            info = read_export_info(network)
        super().__init__(detector, info['layout']['feats'] > 0)
        self.info = info
        self.network = _CompiledNetwork(
            network if compiled else compile_model(network, threads))
        self.threads = threads
        self.export_dir = export_dir
        self.per_shape = bool(per_shape)
        if self.per_shape and export_dir is None:
            raise ValueError('per_shape=True needs an export_dir')
        # (H, W) -> compiled network of that input shape
        self.shape_networks = {
            tuple(self.info['input_shape'][2:]): self.network
        }
        self.layout = self.info['layout']

    @classmethod
    def from_detector(cls, detector: nn.Module, shape: Tuple[int, int],
                      work_dir: str, threads: Optional[int] = None,
                      binary: bool = True,
                      per_shape: bool = False) -> 'OpenVINODetector':
        """Export ``detector`` for ``shape`` into ``work_dir``
        (``detector.onnx``) and wrap it; ``per_shape``: export one network
        per input shape met, into ``work_dir`` too."""
        path = osp.join(work_dir, 'detector.onnx')
        export_onnx(detector, path, shape, binary=binary)
        return cls(detector, path, threads, export_dir=work_dir,
                   per_shape=per_shape)

    @classmethod
    def from_checkpoint(cls, cfg, checkpoint: str, work_dir: str,
                        shape: Optional[Tuple[int, int]] = None,
                        threads: Optional[int] = None,
                        force: bool = False,
                        per_shape: bool = False) -> 'OpenVINODetector':
        """Load a trained (or unfused deploy) checkpoint of ``cfg``, export
        its network to ``work_dir/detector.onnx`` and wrap it.

        Args:
            cfg (Config | str): The training config (a distillation config
                gives its student).
            checkpoint (str): Training checkpoint or unfused deploy
                checkpoint.
            work_dir (str): Where the ONNX file is written.
            shape (tuple, optional): Static input ``(H, W)``; defaults to
                :func:`static_input_shape` of ``cfg``.
            threads (int, optional): OpenVINO's ``INFERENCE_NUM_THREADS``.
            force (bool): Convert an unfinished StoMPP model anyway.
            per_shape (bool): One network per input shape (see the class
                doc). Defaults to False.
        """
        cfg = load_student_config(cfg)
        detector = load_detector(cfg, checkpoint, force=force)
        if shape is None:
            shape = static_input_shape(cfg)
        os.makedirs(work_dir, exist_ok=True)
        return cls.from_detector(detector, tuple(shape), work_dir, threads,
                                 per_shape=per_shape)

    @classmethod
    def from_checkpoint_int8(cls, cfg, checkpoint: str, work_dir: str,
                             calib_images: Optional[int] = None,
                             shape: Optional[Tuple[int, int]] = None,
                             threads: Optional[int] = None,
                             force: bool = False,
                             scope: Optional[str] = None
                             ) -> 'OpenVINODetector':
        """Load a trained (or unfused deploy) checkpoint of ``cfg``, export
        its network, quantize it to INT8 as ``tools/deploy/export_onnx.py
        --int8`` does (:func:`export_int8`, calibrated
        on ``calib_images`` images of ``cfg``'s test or val dataset) and
        wrap it. The IR is written to ``work_dir/detector_int8.xml``.

        The network has one static input (``shape``): images are padded
        to it; an image that does not fit is an error.

        Args:
            cfg (Config | str): The training config (a distillation config
                gives its student).
            checkpoint (str): Training checkpoint or unfused deploy
                checkpoint.
            work_dir (str): Where the ONNX file and the INT8 IR go.
            calib_images (int, optional): Calibration images; defaults to
                :data:`~mmbnn.deploy.int8.DEFAULT_CALIB_IMAGES`.
            shape (tuple, optional): Static input ``(H, W)``; defaults to
                :func:`static_input_shape` of ``cfg``.
            threads (int, optional): OpenVINO's ``INFERENCE_NUM_THREADS``.
            force (bool): Convert an unfinished StoMPP model anyway.
            scope (str, optional): Which real convs / FCs are quantized
                (:data:`~mmbnn.deploy.int8.INT8_SCOPES`); defaults to
                :data:`~mmbnn.deploy.int8.DEFAULT_INT8_SCOPE`.
        """
        cfg = load_student_config(cfg)
        detector = load_detector(cfg, checkpoint, force=force)
        if shape is None:
            shape = static_input_shape(cfg)
        os.makedirs(work_dir, exist_ok=True)
        xml_path = osp.join(work_dir, INT8_MODEL_NAME)
        export_int8(detector, cfg, osp.join(work_dir, 'detector_int8.onnx'),
                    xml_path, tuple(shape),
                    calib_images or DEFAULT_CALIB_IMAGES,
                    scope=scope or DEFAULT_INT8_SCOPE)
        return cls(detector, xml_path, threads)

    @classmethod
    def from_openvino_model(cls, cfg, checkpoint: str, model_path: str,
                            work_dir: str, threads: Optional[int] = None,
                            force: bool = False) -> 'OpenVINODetector':
        """Wrap a prebuilt OpenVINO IR (float or INT8, written by
        ``tools/deploy/export_onnx.py --openvino``) of ``cfg``'s network,
        the rest of the detector loaded from ``checkpoint``.

        The IR's interface is checked against this config's own export at
        the IR's input shape (``work_dir/reference_HxW.onnx``):
        :func:`network_mismatches`. The weights are the IR's.

        Args:
            cfg (Config | str): The training config.
            checkpoint (str): The checkpoint the IR was exported from.
            model_path (str): The IR's ``.xml`` file.
            work_dir (str): Where the reference export is written.
            threads (int, optional): OpenVINO's ``INFERENCE_NUM_THREADS``.
            force (bool): Convert an unfinished StoMPP model anyway.

        Raises:
            ValueError: If the IR carries no export info, or its inputs /
                outputs / export info differ from the config's export (each
                difference is named).
        """
        import openvino as ov
        cfg = load_student_config(cfg)
        detector = load_detector(cfg, checkpoint, force=force)
        model = ov.Core().read_model(model_path)
        info = read_export_info(model)
        shape = tuple(info.get('input_shape', [0, 0, 0, 0])[2:])
        if len(model.inputs) == 1 and model.input(0).get_partial_shape(
        ).is_static:
            shape = tuple(model.input(0).get_shape())[2:]
        os.makedirs(work_dir, exist_ok=True)
        reference = osp.join(work_dir,
                             f'reference_{shape[0]}x{shape[1]}.onnx')
        expected = export_onnx(detector, reference, shape,
                               binary=info.get('binary', True))
        mismatches = network_mismatches(model, info,
                                        onnx_to_openvino(reference),
                                        expected)
        if mismatches:
            raise ValueError(
                f'--openvino-model {model_path} is not an export of this '
                f'config ({checkpoint}): ' + '; '.join(mismatches))
        return cls(detector, model, threads, info=info)

    def run_network(self, batch_inputs: Tensor) -> List[Tensor]:
        outputs = []
        for image in batch_inputs.float().cpu():
            size = tuple(image.shape[1:])
            shape = size if self.per_shape else self._fixed_shape(size)
            image = F.pad(image,
                          (0, shape[1] - size[1], 0, shape[0] - size[0]))
            outputs.append(self._network_for(shape)(image[None]))
        return [torch.cat(level) for level in zip(*outputs)]

    def _fixed_shape(self, size: Tuple[int, int]) -> Tuple[int, int]:
        """The static input an image of ``size`` is padded to: the exported
        one, or with ``export_dir`` its transpose for a portrait image
        (``keep_ratio`` resizes make both orientations)."""
        height, width = self.info['input_shape'][2:]
        if size[0] <= height and size[1] <= width:
            return (height, width)
        if self.export_dir is not None and size[0] <= width and \
                size[1] <= height:
            return (width, height)
        raise ValueError(
            f'input image of {size} is larger than the exported network\'s '
            f'input ({height}, {width}); export it for a larger --shape')

    def _network_for(self, shape: Tuple[int, int]) -> nn.Module:
        """The compiled network of input ``shape`` (exported on first
        use)."""
        if shape not in self.shape_networks:
            path = osp.join(self.export_dir,
                            f'detector_{shape[0]}x{shape[1]}.onnx')
            info = export_onnx(self.detector, path, shape,
                               binary=self.info.get('binary', True))
            if info['layout'] != self.info['layout']:
                raise RuntimeError(f'the network exported for {shape} has '
                                   'another output layout')
            self.shape_networks[shape] = _CompiledNetwork(
                compile_model(path, self.threads))
        return self.shape_networks[shape]


class _CompiledNetwork(nn.Module):
    """A compiled OpenVINO model as a module (``forward`` is what the
    benchmark's stage timer measures as the network)."""

    def __init__(self, compiled) -> None:
        super().__init__()
        self.compiled = compiled
        self.request = compiled.create_infer_request()

    def forward(self, image: Tensor) -> List[Tensor]:
        results = self.request.infer([image.numpy()])
        return [torch.from_numpy(results[out].copy())
                for out in self.compiled.outputs]


def _port_shape(port) -> str:
    return str(port.get_partial_shape())


def network_mismatches(model, info: Dict, reference,
                       expected: Dict) -> List[str]:
    """How an OpenVINO ``model`` (with export ``info``) differs from the
    ``reference`` export of a config (with export info ``expected``), as
    the network :class:`OpenVINODetector` runs.

    Compared: the inputs (count, shapes), the outputs (count, order of
    names, shapes), and the export info's ``layout``, ``output_names``,
    ``binary``, ``binary_convs`` and ``binary_nodes`` (the binarized
    modules).

    Returns:
        list[str]: One line per difference, empty when they match.
    """
    found = []
    if len(model.inputs) != len(reference.inputs):
        found.append(f'{len(model.inputs)} inputs, expected '
                     f'{len(reference.inputs)}')
    else:
        for index, (got, want) in enumerate(zip(model.inputs,
                                                reference.inputs)):
            if _port_shape(got) != _port_shape(want):
                found.append(f'input {index} has shape {_port_shape(got)}, '
                             f'expected {_port_shape(want)}')
    if len(model.outputs) != len(reference.outputs):
        found.append(f'{len(model.outputs)} outputs, expected '
                     f'{len(reference.outputs)} '
                     f'({", ".join(expected["output_names"])})')
    else:
        for index, (got, want) in enumerate(zip(model.outputs,
                                                reference.outputs)):
            name = want.get_any_name()
            if name not in got.get_names():
                found.append(f'output {index} is '
                             f'{sorted(got.get_names()) or "unnamed"}, '
                             f'expected {name!r}')
            elif _port_shape(got) != _port_shape(want):
                found.append(f'output {name} has shape {_port_shape(got)}, '
                             f'expected {_port_shape(want)}')
    for key in _INTERFACE_KEYS:
        if info.get(key) != expected.get(key):
            found.append(f'export info {key} is {info.get(key)!r}, '
                         f'expected {expected.get(key)!r}')
    return found


def export_int8(detector: nn.Module, cfg, onnx_path: str, xml_path: str,
                shape: Sequence[int], num_images: int = DEFAULT_CALIB_IMAGES,
                binary: bool = True,
                inputs: Optional[Sequence[np.ndarray]] = None,
                scope: str = DEFAULT_INT8_SCOPE) -> Dict:
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
            :data:`~mmbnn.deploy.int8.DEFAULT_CALIB_IMAGES`.
        binary (bool): Binarized convs as ``BinaryConvolution`` (else
            float convs on +-1 values, which are then quantized too).
        inputs (Sequence[np.ndarray], optional): Calibration inputs to use
            instead of the dataset's.
        scope (str): Which real convs / FCs are quantized
            (:func:`~mmbnn.deploy.int8.quantize_int8`). Defaults to
            :data:`~mmbnn.deploy.int8.DEFAULT_INT8_SCOPE`.

    Returns:
        dict: The export info (:func:`~mmbnn.deploy.openvino.export_onnx`)
        with ``int8`` (``calib_images``, ``scope``) added, as stored in the
        IR.
    """
    import json

    from .int8 import calibration_inputs, check_int8_scope, quantize_int8
    shape = tuple(shape)
    check_int8_scope(scope)
    if inputs is None:
        inputs = calibration_inputs(detector, cfg, shape, num_images)
    info = export_onnx(detector, onnx_path, shape, binary=binary)
    model = quantize_int8(onnx_to_openvino(onnx_path), inputs, scope=scope)
    info = dict(info, int8=dict(calib_images=len(inputs), scope=scope))
    model.set_rt_info(json.dumps(info), ['mmbnn', EXPORT_INFO_KEY])
    save_openvino(model, xml_path)
    return info
