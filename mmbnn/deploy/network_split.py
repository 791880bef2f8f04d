# Copyright (c) mmbnn contributors. All rights reserved.
"""A detector split in two: its tensor part (the features and the dense
heads' raw outputs, :class:`DetectorTensorPart`) run by some network, and
the post-processing in PyTorch with the detector's own modules.

The ONNX export writes the tensor part (:mod:`.onnx_export`);
:class:`~mmbnn.deploy.openvino.OpenVINODetector` runs it on OpenVINO and
:class:`Float64NetworkDetector` in float64 in PyTorch (the reference of
float32 runtimes).
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .loading import load_detector


class DetectorTensorPart(nn.Module):
    """The exported part of an mmdet detector: ``img -> flat outputs``.

    Two-stage detectors (an ``rpn_head`` and a ``roi_head``): the neck
    features followed by the RPN's class scores and box deltas per level;
    the RoI head runs in PyTorch on the features. Single-stage detectors
    (a ``bbox_head``): the head's class scores and box deltas per level.

    Args:
        detector (nn.Module): An mmdet detector (deploy form).
    """

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        self.two_stage = getattr(detector, 'with_rpn', False) and \
            getattr(detector, 'with_roi_head', False)
        if not self.two_stage and getattr(detector, 'bbox_head',
                                          None) is None:
            raise ValueError(
                f'{type(detector).__name__}: export supports two-stage '
                'detectors with an RPN and single-stage detectors with a '
                'bbox_head')
        self.layout: Optional[Dict[str, int]] = None

    def forward(self, img: Tensor) -> Tuple[Tensor, ...]:
        feats = self.detector.extract_feat(img)
        if self.two_stage:
            cls_scores, bbox_preds = self.detector.rpn_head(feats)
            self.layout = dict(feats=len(feats), levels=len(cls_scores))
            return (*feats, *cls_scores, *bbox_preds)
        outs = self.detector.bbox_head(feats)
        if len(outs) != 2:
            raise ValueError(
                f'{type(self.detector.bbox_head).__name__}.forward returns '
                f'{len(outs)} lists; export supports heads returning '
                '(cls_scores, bbox_preds)')
        cls_scores, bbox_preds = outs
        self.layout = dict(feats=0, levels=len(cls_scores))
        return (*cls_scores, *bbox_preds)


def output_names(layout: Dict[str, int]) -> List[str]:
    """Names of the flat outputs of :class:`DetectorTensorPart`."""
    names = [f'feat{i}' for i in range(layout['feats'])]
    prefix = 'rpn_' if layout['feats'] else ''
    names += [f'{prefix}cls{i}' for i in range(layout['levels'])]
    names += [f'{prefix}reg{i}' for i in range(layout['levels'])]
    return names


def split_outputs(outputs: Sequence, layout: Dict[str, int]):
    """``(feats, cls_scores, bbox_preds)`` from the flat outputs."""
    num_feats, levels = layout['feats'], layout['levels']
    feats = tuple(outputs[:num_feats])
    cls_scores = list(outputs[num_feats:num_feats + levels])
    bbox_preds = list(outputs[num_feats + levels:num_feats + 2 * levels])
    return feats, cls_scores, bbox_preds


class NetworkSplitDetector(nn.Module):
    """An mmdet detector whose tensor part (:class:`DetectorTensorPart`: the
    features and the dense heads' raw outputs) is computed by
    :meth:`run_network`, the rest in PyTorch with the detector's own
    modules: for a two-stage detector ``rpn_head.predict_by_feat`` (anchors,
    proposal NMS) and the whole RoI head (``roi_head.predict``), for a
    single-stage one ``bbox_head.predict_by_feat``. It predicts
    ``DetDataSample`` s as the detector does (``predict``, ``test_step``,
    and so ``mmdet.apis.inference_detector``).

    Args:
        detector (nn.Module): The PyTorch detector (its deploy form), for
            the data preprocessor, the heads' post-processing, ``cfg`` and
            ``dataset_meta``.
        two_stage (bool): Whether the network's outputs are the neck
            features followed by the RPN's (else a single-stage head's).
    """

    def __init__(self, detector: nn.Module, two_stage: bool) -> None:
        super().__init__()
        self.detector = detector.eval()
        self.cfg = getattr(detector, 'cfg', None)
        self.dataset_meta = getattr(detector, 'dataset_meta', None)
        self.two_stage = bool(two_stage)
        #: the output layout (:func:`split_outputs`), known at the latest
        #: after the first :meth:`run_network`
        self.layout: Optional[Dict[str, int]] = None
        # the detector's post-processing modules, at the paths the
        # benchmark's stage timers look for
        for name in ('rpn_head', 'roi_head', 'bbox_head'):
            module = getattr(detector, name, None)
            if module is not None:
                self.add_module(name, module)

    @property
    def data_preprocessor(self) -> nn.Module:
        return self.detector.data_preprocessor

    def run_network(self, batch_inputs: Tensor) -> List[Tensor]:
        """The network's outputs for a preprocessed batch (per output, the
        images concatenated along the batch axis)."""
        raise NotImplementedError

    def predict(self, batch_inputs: Tensor, batch_data_samples: list,
                rescale: bool = True) -> list:
        """Detections as ``detector.predict`` returns them."""
        outputs = self.run_network(batch_inputs)
        feats, cls_scores, bbox_preds = split_outputs(outputs, self.layout)
        metas = [sample.metainfo for sample in batch_data_samples]
        detector = self.detector
        if self.two_stage:
            proposals = detector.rpn_head.predict_by_feat(
                cls_scores, bbox_preds, batch_img_metas=metas, rescale=False)
            results = detector.roi_head.predict(
                feats, proposals, batch_data_samples, rescale=rescale)
        else:
            results = detector.bbox_head.predict_by_feat(
                cls_scores, bbox_preds, batch_img_metas=metas,
                rescale=rescale)
        return detector.add_pred_to_datasample(batch_data_samples, results)

    def test_step(self, data: dict) -> list:
        """Preprocess ``data`` and predict, as ``BaseDetector.test_step``."""
        data = self.data_preprocessor(data, False)
        return self.predict(data['inputs'], data['data_samples'])

    def forward(self, inputs: Tensor, data_samples: Optional[list] = None,
                mode: str = 'predict'):
        if mode != 'predict':
            raise ValueError(f'mode={mode!r}: {type(self).__name__} only '
                             "predicts (mode='predict')")
        return self.predict(inputs, data_samples)


class Float64NetworkDetector(NetworkSplitDetector):
    """The detector with its tensor part (what
    :class:`~mmbnn.deploy.openvino.OpenVINODetector` runs on OpenVINO) in
    float64, in PyTorch on CPU: the reference against
    which float32 runtimes are compared.

    In float32 a binarized activation that lies within rounding of its
    threshold flips with the summation order, and the flip changes the
    layers after it, so two float32 runtimes (PyTorch's and OpenVINO's)
    each differ from the trained network's exact function on a few images.
    Float64 rounding is 2**29 times finer: its outputs are the exact
    network's in practice. The post-processing runs as in
    :class:`~mmbnn.deploy.openvino.OpenVINODetector`, in float32.

    ``layout`` is known after the first :meth:`run_network`.

    Args:
        detector (nn.Module): The PyTorch detector (its deploy form); its
            tensor part is copied to float64.
    """

    def __init__(self, detector: nn.Module) -> None:
        network = DetectorTensorPart(copy.deepcopy(detector).double())
        super().__init__(detector, network.two_stage)
        self.network = network.eval()

    @classmethod
    def from_checkpoint(cls, cfg, checkpoint: str,
                        force: bool = False) -> 'Float64NetworkDetector':
        """Load a trained (or unfused deploy) checkpoint of ``cfg`` (a
        distillation config gives its student, see :func:`load_detector`).
        """
        return cls(load_detector(cfg, checkpoint, force=force))

    def run_network(self, batch_inputs: Tensor) -> List[Tensor]:
        with torch.no_grad():
            outputs = self.network(batch_inputs.double())
        self.layout = self.network.layout
        return [output.float() for output in outputs]
