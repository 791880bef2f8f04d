# Copyright (c) mmbnn contributors. All rights reserved.
"""A two-stage detector's RoI box head (its shared FCs and the cls / reg
FCs, mmdet's ``Shared2FCBBoxHead``) on OpenVINO's CPU plugin, optionally in
INT8.

The box head's tensor part (:class:`BoxHeadTensorPart`: RoI features
``(N, C, 7, 7)``, the RoI extractor's output, to ``(cls_score,
bbox_pred)``) is exported to ONNX with a dynamic first dimension (the number
of RoIs), converted to OpenVINO, optionally quantized with NNCF
(:func:`~mmbnn.deploy.int8.quantize_int8`, every FC, calibrated on RoI
features the detector itself produces: :func:`collect_roi_features`) and
compiled. :func:`use_openvino_box_head` puts an :class:`OpenVINOBoxHead` in
place of ``roi_head.bbox_head``: mmdet's ``StandardRoIHead._bbox_forward``
calls it for the raw outputs, and everything else of the head (RoIAlign
before it, ``predict_by_feat`` after it) runs in PyTorch as before, so the
detections have the same format. It works with any detector whose RoI head
calls ``roi_head.bbox_head`` (e.g. an
:class:`~mmbnn.deploy.openvino.OpenVINODetector`, whatever the precision of
its network, or the PyTorch detector itself).
"""
import os.path as osp
import tempfile
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from .onnx_export import ONNX_OPSET
from .openvino_graph import compile_model

#: names of the box head network's input and outputs
BOX_HEAD_INPUT = 'roi_feats'
BOX_HEAD_OUTPUTS = ('cls_score', 'bbox_pred')
#: the ONNX file :func:`use_openvino_box_head` writes in its work dir
BOX_HEAD_ONNX = 'box_head.onnx'
#: the INT8 box head IR saved beside an INT8 network (``tools/test.py
#: --roi-head-openvino``), reused with that network as ``--openvino-model``
BOX_HEAD_INT8_IR = 'box_head_int8.xml'
#: RoIs per image kept for calibrating an INT8 box head
CALIB_ROIS_PER_IMAGE = 64


class BoxHeadTensorPart(nn.Module):
    """``roi_feats -> (cls_score, bbox_pred)`` of an mmdet box head (what
    ``StandardRoIHead._bbox_forward`` gets from ``bbox_head(bbox_feats)``).

    Args:
        bbox_head (nn.Module): The RoI head's ``bbox_head``.
    """

    def __init__(self, bbox_head: nn.Module) -> None:
        super().__init__()
        self.bbox_head = bbox_head

    def forward(self, roi_feats: Tensor) -> Tuple[Tensor, Tensor]:
        outs = self.bbox_head(roi_feats)
        if not (isinstance(outs, tuple) and len(outs) == 2 and
                all(isinstance(out, Tensor) for out in outs)):
            raise ValueError(
                f'{type(self.bbox_head).__name__}.forward does not return '
                '(cls_score, bbox_pred) tensors; the OpenVINO box head '
                'supports heads that do (e.g. Shared2FCBBoxHead)')
        return outs


def roi_feature_shape(bbox_head: nn.Module) -> Tuple[int, int, int]:
    """``(C, H, W)`` of one RoI's features the box head takes: its
    ``in_channels`` and ``roi_feat_size``."""
    size = bbox_head.roi_feat_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    return (int(bbox_head.in_channels), *map(int, size))


def box_head_error(detector: nn.Module) -> Optional[str]:
    """Why the detector has no single box head for OpenVINO, or None."""
    roi_head = getattr(detector, 'roi_head', None)
    head = getattr(roi_head, 'bbox_head', None)
    if head is None:
        return (f'{type(detector).__name__} has no roi_head.bbox_head: the '
                'OpenVINO box head applies to two-stage detectors')
    if isinstance(head, nn.ModuleList):
        return (f'{type(roi_head).__name__} has {len(head)} box heads (a '
                'cascade); the OpenVINO box head supports one')
    return None


def _box_head_of(detector: nn.Module) -> nn.Module:
    """``detector.roi_head.bbox_head``, or a ValueError saying why the
    detector has no single box head (:func:`box_head_error`)."""
    error = box_head_error(detector)
    if error:
        raise ValueError(error)
    return detector.roi_head.bbox_head


def _torch_box_head(detector: nn.Module) -> nn.Module:
    """The PyTorch box head of the detector, also when an
    :class:`OpenVINOBoxHead` stands in its place."""
    head = _box_head_of(detector)
    return getattr(head, 'torch_head', head)


def check_box_head_config(model_cfg: dict) -> None:
    """Refuse, before anything is built, a model config without a single
    box head (what :func:`use_openvino_box_head` needs).

    Args:
        model_cfg (dict): The detector's ``model`` config (a distillation
            config's student).

    Raises:
        ValueError: Naming ``model.roi_head.bbox_head`` and what the config
            has instead.
    """
    roi_head = model_cfg.get('roi_head', None)
    head = roi_head.get('bbox_head', None) if roi_head else None
    if not head:
        raise ValueError(
            f'the OpenVINO box head applies to two-stage detectors; model '
            f'type {model_cfg.get("type")!r} has no model.roi_head.bbox_head')
    if isinstance(head, (list, tuple)):
        raise ValueError(
            f'model.roi_head.bbox_head is a list of {len(head)} box heads (a '
            'cascade); the OpenVINO box head supports one')


def export_box_head(bbox_head: nn.Module, path: str) -> None:
    """Export the box head's tensor part (:class:`BoxHeadTensorPart`) to
    ONNX, input ``roi_feats`` ``(N, C, H, W)`` with a dynamic ``N``, outputs
    ``cls_score`` and ``bbox_pred`` ``(N, ...)``.

    Args:
        bbox_head (nn.Module): The box head (float, in eval mode).
        path (str): The ``.onnx`` file written.
    """
    part = BoxHeadTensorPart(bbox_head).eval()
    dummy = torch.zeros(2, *roi_feature_shape(bbox_head))
    rois = {0: 'rois'}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(
            part, (dummy, ), path, dynamo=False, opset_version=ONNX_OPSET,
            input_names=[BOX_HEAD_INPUT],
            output_names=list(BOX_HEAD_OUTPUTS),
            dynamic_axes={name: rois for name in
                          (BOX_HEAD_INPUT, *BOX_HEAD_OUTPUTS)},
            do_constant_folding=True)


def collect_roi_features(detector: nn.Module, batch_inputs: Tensor,
                         batch_data_samples: list) -> List[Tensor]:
    """The RoI features the detector's box head receives when it predicts
    on a preprocessed batch (calibration data of the INT8 box head).

    Args:
        detector (nn.Module): A two-stage detector, or a
            :class:`~mmbnn.deploy.network_split.NetworkSplitDetector` of
            one.
        batch_inputs (Tensor): The preprocessed batch.
        batch_data_samples (list): Its data samples.

    Returns:
        list[Tensor]: The box head's input of each of its calls (one per
        batch: ``(N, C, H, W)``, the RoIs of all images).
    """
    head = _box_head_of(detector)
    feats: List[Tensor] = []
    hook = head.register_forward_pre_hook(
        lambda module, args: feats.append(args[0].detach().float().clone()))
    try:
        with torch.no_grad():
            detector.predict(batch_inputs, batch_data_samples)
    finally:
        hook.remove()
    return feats


def calibration_roi_features(detector: nn.Module, cfg, num_images: int,
                             rois_per_image: int = CALIB_ROIS_PER_IMAGE,
                             cap: bool = False) -> List[Tensor]:
    """The box head's RoI features on ``num_images`` images of the
    config's test (or val) dataset (:func:`~mmbnn.deploy.int8.
    calibration_batches`), one image at a time: the calibration data of
    an INT8 box head.

    Of each image at most ``rois_per_image`` RoIs are kept, drawn without
    replacement by a generator seeded with the image's position (the same
    RoIs in every run): a test config's 1000 proposals of 256x7x7 features
    are 50 MB an image.

    Args:
        detector (nn.Module): A two-stage detector (or its
            :class:`~mmbnn.deploy.network_split.NetworkSplitDetector`).
        cfg (Config): The config whose dataset is read.
        num_images (int): How many images.
        rois_per_image (int): RoIs kept per image. Defaults to
            :data:`CALIB_ROIS_PER_IMAGE`.
        cap (bool): Use all images of a dataset smaller than
            ``num_images`` (with a warning) instead of refusing it.

    Returns:
        list[Tensor]: One ``(n, C, H, W)`` tensor per image with RoIs.

    Raises:
        ValueError: As :func:`~mmbnn.deploy.int8.calibration_batches`; when
            no image gives the box head a RoI.
    """
    from .int8 import calibration_batches
    if rois_per_image < 1:
        raise ValueError(f'rois_per_image={rois_per_image}: must be >= 1')
    feats: List[Tensor] = []
    batches = calibration_batches(detector, cfg, num_images, cap=cap)
    for index, batch in enumerate(batches):
        for feat in collect_roi_features(detector, batch['inputs'],
                                         batch['data_samples']):
            if feat.shape[0] > rois_per_image:
                gen = torch.Generator().manual_seed(index)
                keep = torch.randperm(feat.shape[0], generator=gen)
                feat = feat[keep[:rois_per_image].sort().values].clone()
            if feat.shape[0] > 0:
                feats.append(feat)
    if not feats:
        raise ValueError(
            f'none of the {num_images} calibration images gave the box head '
            'a RoI: an INT8 box head needs some (calibrate on more images, '
            '--calib-images, or check the checkpoint)')
    return feats


def export_int8_box_head(detector: nn.Module, cfg, num_images: int,
                         xml_path: str, cap: bool = False):
    """Quantize the detector's box head to INT8, calibrated on
    :func:`calibration_roi_features` of ``num_images`` images, and save it
    as the IR ``xml_path``. Saved as :data:`BOX_HEAD_INT8_IR` beside an
    INT8 network, it is the box head ``tools/test.py --roi-head-openvino
    --openvino-model`` runs with that network.

    Args:
        detector (nn.Module): The detector whose RoI features calibrate
            the head: the deployed one (e.g. an
            :class:`~mmbnn.deploy.openvino.OpenVINODetector` of the INT8
            network), so the head sees the features it will get.
        cfg (Config): The config whose test (or val) dataset is read.
        num_images (int): Calibration images.
        xml_path (str): The ``.xml`` written (with its ``.bin``).
        cap (bool): See :func:`calibration_roi_features`.

    Returns:
        openvino.Model: The INT8 box head network.
    """
    from .openvino_graph import save_openvino
    head = _torch_box_head(detector)
    feats = calibration_roi_features(detector, cfg, num_images, cap=cap)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_box_head_network(head.eval(),
                                       osp.join(tmp, BOX_HEAD_ONNX), feats,
                                       int8=True)
    save_openvino(model, xml_path)
    return model


def check_box_head_network(model, bbox_head: nn.Module, path: str) -> None:
    """Refuse a box head network whose interface differs from the PyTorch
    head's: input ``(N, C, H, W)`` of :func:`roi_feature_shape`, outputs
    ``cls_score`` and ``bbox_pred`` of the head's widths.

    Raises:
        ValueError: Naming ``path`` and each difference.
    """
    shape = model.inputs[0].get_partial_shape()
    got_in = tuple(d.get_length() if d.is_static else None
                   for d in list(shape)[1:])
    want_in = roi_feature_shape(bbox_head)
    with torch.no_grad():
        outs = BoxHeadTensorPart(bbox_head.eval())(
            torch.zeros(1, *want_in))
    want_out = [int(out.shape[1]) for out in outs]
    got_out = [port.get_partial_shape()[1].get_length()
               for port in model.outputs]
    problems = []
    if got_in != want_in:
        problems.append(f'input {got_in} per RoI, the head takes {want_in}')
    if got_out != want_out:
        problems.append(f'output widths {got_out}, the head gives '
                        f'{want_out}')
    if problems:
        raise ValueError(f'box head network {path} does not fit this '
                         f'detector: {"; ".join(problems)}')


class OpenVINOBoxHead(nn.Module):
    """A box head whose ``forward`` runs a compiled OpenVINO network; every
    other attribute (``predict_by_feat``, ``num_classes``,
    ``predict_box_type``, ...) is the PyTorch head's.

    Args:
        torch_head (nn.Module): The PyTorch box head it stands in for.
        model (openvino.Model): The box head network (for a second
            compilation, e.g. with performance counters).
        compiled (openvino.CompiledModel): ``model`` compiled.
    """

    def __init__(self, torch_head: nn.Module, model, compiled) -> None:
        super().__init__()
        self.torch_head = torch_head
        self.model = model
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.out_dims = [
            int(port.get_partial_shape()[1].get_length())
            for port in compiled.outputs
        ]
        #: the RoI features of the last call with RoIs (float32 array)
        self.last_input: Optional[np.ndarray] = None

    def forward(self, roi_feats: Tensor) -> Tuple[Tensor, Tensor]:
        if roi_feats.shape[0] == 0:  # no inference call
            return tuple(roi_feats.new_zeros((0, dim))
                         for dim in self.out_dims)
        array = np.ascontiguousarray(roi_feats.detach().float().cpu().numpy())
        self.last_input = array
        results = self.request.infer([array])
        return tuple(torch.from_numpy(results[port].copy()).to(
            roi_feats.device) for port in self.compiled.outputs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == 'torch_head':
                raise
            return getattr(self.torch_head, name)


def build_box_head_network(bbox_head: nn.Module, onnx_path: str,
                           calib_feats: Optional[Sequence[Tensor]] = None,
                           int8: bool = False):
    """The box head as an OpenVINO model: exported to ``onnx_path``
    (:func:`export_box_head`), converted, and with ``int8`` quantized
    (every FC: :func:`~mmbnn.deploy.int8.quantize_int8` with scope
    ``'all'``; the head has no 1-bit layer) on ``calib_feats``.

    Raises:
        ValueError: For ``int8`` without calibration features that hold
            at least one RoI.
    """
    import openvino as ov
    export_box_head(bbox_head, onnx_path)
    model = ov.convert_model(onnx_path)
    if int8:
        from .int8 import quantize_int8
        inputs = [f.float().cpu().numpy() for f in calib_feats or ()
                  if f.shape[0] > 0]
        if not inputs:
            raise ValueError('the INT8 box head needs calibration RoI '
                             'features with at least one RoI '
                             '(calib_feats)')
        model = quantize_int8(model, inputs, scope='all')
    return model


def use_openvino_box_head(detector: nn.Module, work_dir: Optional[str] = None,
                          threads: Optional[int] = None,
                          int8: bool = False,
                          calib_feats: Optional[Sequence[Tensor]] = None,
                          network: Optional[str] = None,
                          **config) -> OpenVINOBoxHead:
    """Run ``detector.roi_head.bbox_head`` on OpenVINO: build its network
    (:func:`build_box_head_network`) or read a prebuilt one, compile it and
    put an :class:`OpenVINOBoxHead` in its place (the detector is changed
    in place; the RoI extractor and ``predict_by_feat`` stay PyTorch's).

    Args:
        detector (nn.Module): A two-stage detector (PyTorch, or a
            :class:`~mmbnn.deploy.network_split.NetworkSplitDetector`),
            eval mode.
        work_dir (str, optional): Where ``box_head.onnx`` is written (a
            temporary directory if None).
        threads (int, optional): OpenVINO's ``INFERENCE_NUM_THREADS``.
        int8 (bool): Quantize the box head's FCs to INT8. Defaults to
            False.
        calib_feats (Sequence[Tensor], optional): With ``int8``: the
            calibration RoI features, e.g. :func:`collect_roi_features` of
            the detector on some images.
        network (str, optional): A box head IR (``.xml``) saved from an
            earlier one (``head.model``); ``int8`` and ``calib_feats`` are
            then ignored. Its interface is checked against the head
            (:func:`check_box_head_network`).
        **config: Further CPU properties (:func:`~mmbnn.deploy.
            openvino_graph.compile_model`).

    Returns:
        OpenVINOBoxHead: The installed head (``compiled``: its compiled
        network, for :func:`~mmbnn.deploy.int8.runtime_precision_report`).

    Raises:
        ValueError: Without a single box head (a single-stage or cascade
            detector), for a head whose forward does not return
            ``(cls_score, bbox_pred)``, or a ``network`` that does not fit
            the head.
    """
    head = _torch_box_head(detector)
    if network is not None:
        import openvino as ov
        model = ov.Core().read_model(network)
        check_box_head_network(model, head, network)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(work_dir or tmp, BOX_HEAD_ONNX)
            model = build_box_head_network(head.eval(), path, calib_feats,
                                           int8)
    compiled = compile_model(model, threads, **config)
    wrapper = OpenVINOBoxHead(head, model, compiled)
    detector.roi_head.bbox_head = wrapper
    return wrapper
