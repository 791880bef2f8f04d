# Copyright (c) mmbnn contributors. All rights reserved.
"""What ``tools/test.py --deploy-backend`` evaluates in place of the
config's model.

- ``auto`` / ``kernel`` / ``reference`` on a training checkpoint: the
  config's model, loaded from it (nothing is swapped);
- the same on a deploy checkpoint (``tools/deploy/export.py``): the packed
  model rebuilt from the file, its convs on the XNOR kernel (``auto``: when
  built, ``kernel``) or the float reference (``reference``);
- ``openvino``: the network exported to ONNX and run on OpenVINO, the rest
  of the detector in PyTorch (:class:`~mmbnn.deploy.openvino.
  OpenVINODetector`); with ``int8`` that network quantized to INT8 first
  (as ``tools/deploy/export_onnx.py --int8``), with ``openvino_model`` a
  prebuilt IR of it (float or INT8) in its place; with
  ``roi_head_openvino`` a two-stage detector's RoI box head on OpenVINO too,
  in the network's precision (:mod:`~mmbnn.deploy.openvino_roi_head`);
- ``float64``: that network in float64 in PyTorch (:class:`~mmbnn.deploy.
  openvino.Float64NetworkDetector`).

Every swapped model runs in one process, on CPU.
"""
import os.path as osp
from typing import Callable, Optional

from mmengine.config import Config
from torch import nn

from ..utils import check_choice

#: the values of ``--deploy-backend``
TEST_BACKENDS = ('auto', 'kernel', 'reference', 'openvino', 'float64')
#: the backends that run the network part apart from the detector's
#: post-processing (either checkpoint kind)
SPLIT_BACKENDS = ('openvino', 'float64')
#: the values of ``--openvino-shape``
OPENVINO_SHAPES = ('per-input', 'fixed')
#: the ``--openvino-shape`` of a network with one static input (``--int8``,
#: ``--openvino-model``)
STATIC_SHAPE = 'fixed'

#: builds the model a test runner evaluates in place of the config's
ModelSwap = Callable[[], nn.Module]


def prepare_test_backend(cfg: Config,
                         checkpoint: str,
                         backend: str = 'auto',
                         openvino_shape: Optional[str] = None,
                         *,
                         int8: bool = False,
                         calib_images: Optional[int] = None,
                         int8_scope: Optional[str] = None,
                         openvino_model: Optional[str] = None,
                         openvino_threads: Optional[int] = None,
                         roi_head_openvino: bool = False
                         ) -> Optional[ModelSwap]:
    """Set ``cfg`` up to test ``checkpoint`` on ``backend`` and say which
    model replaces the config's.

    Call it before anything is built from ``cfg`` (it refuses bad
    combinations first); when it returns a function, call it once the
    runner is built from ``cfg`` (it reads ``cfg`` as it is then,
    ``work_dir`` included) and set ``runner.model`` to the result before
    ``runner.test()``. The data pipeline and evaluator stay the config's.

    Args:
        cfg (Config): The test config, ``launcher`` already set; its
            ``load_from`` is set here (``checkpoint``, or None when the
            model is rebuilt from the checkpoint instead).
        checkpoint (str): A training checkpoint or a deploy checkpoint.
        backend (str): One of :data:`TEST_BACKENDS`. Defaults to
            ``'auto'``.
        openvino_shape (str, optional): With ``backend='openvino'``:
            ``'per-input'`` (the default, one network per input shape) or
            ``'fixed'`` (one network at the pipeline's largest size).
        int8 (bool): With ``backend='openvino'``: quantize the exported
            network's real-valued convs and FCs to INT8 first
            (:meth:`~mmbnn.deploy.openvino.OpenVINODetector.
            from_checkpoint_int8`, calibrated on images of ``cfg``'s test
            or val dataset); it runs as INT8 and 1-bit segments at the
            static input shape. Defaults to False.
        calib_images (int, optional): With ``int8``: how many calibration
            images (default :data:`~mmbnn.deploy.int8.
            DEFAULT_CALIB_IMAGES`).
        int8_scope (str, optional): With ``int8``: which real convs / FCs
            are quantized, one of :data:`~mmbnn.deploy.int8.INT8_SCOPES`
            (default :data:`~mmbnn.deploy.int8.DEFAULT_INT8_SCOPE`).
        openvino_model (str, optional): With ``backend='openvino'``: a
            prebuilt OpenVINO IR (``.xml``, float or INT8) of this
            config's network to run instead of a fresh export; its inputs
            and outputs are checked against the config's export
            (:func:`~mmbnn.deploy.openvino.network_mismatches`).
        openvino_threads (int, optional): With ``backend='openvino'``:
            OpenVINO's ``INFERENCE_NUM_THREADS`` (default: its own).
        roi_head_openvino (bool): With ``backend='openvino'``: the RoI box
            head's FCs run on OpenVINO as well (:func:`~mmbnn.deploy.
            openvino_roi_head.use_openvino_box_head`), in INT8 when the
            network is INT8 (``int8`` or an INT8 ``openvino_model``): the
            ``box_head_int8.xml`` beside ``openvino_model`` when present,
            else calibrated on the RoI features of as many images as the
            network and saved as that file in the work dir's ``openvino``
            folder. Two-stage detectors with one box head only. Defaults
            to False.

    Returns:
        Callable | None: Builds the model to evaluate in place of the
        config's, or None when the config's model is tested.

    Raises:
        ValueError: An unknown ``backend``/``openvino_shape``; an OpenVINO
            option (``openvino_shape``, ``int8``, ``calib_images``,
            ``openvino_model``, ``openvino_threads``,
            ``roi_head_openvino``) without ``backend='openvino'``;
            ``calib_images`` or ``int8_scope`` without ``int8``; an
            unknown ``int8_scope``;
            ``int8`` with ``openvino_model``; ``openvino_shape='per-input'``
            with either; an ``openvino_model`` that is not an existing
            ``.xml`` file; ``roi_head_openvino`` for a model without a
            single box head.
        RuntimeError: A swapped model with ``cfg.launcher`` other than
            ``'none'``.
    """
    from . import is_deploy_checkpoint
    check_choice('deploy_backend', backend, TEST_BACKENDS)
    if openvino_shape is not None:
        check_choice('openvino_shape', openvino_shape, OPENVINO_SHAPES)
    _check_openvino_options(backend, openvino_shape, int8, calib_images,
                            openvino_model, openvino_threads, int8_scope,
                            roi_head_openvino)
    if roi_head_openvino:
        from .loading import load_student_config
        from .openvino_roi_head import check_box_head_config
        check_box_head_config(load_student_config(cfg).model)
    split = backend in SPLIT_BACKENDS
    swap = split or is_deploy_checkpoint(checkpoint)
    launcher = cfg.get('launcher', 'none')
    if swap and launcher != 'none':
        what = (f'--deploy-backend {backend}' if split else
                'a deploy checkpoint')
        what += ' --int8' if int8 else ''
        what += ' --openvino-model' if openvino_model else ''
        what += ' --roi-head-openvino' if roi_head_openvino else ''
        raise RuntimeError(f'{what} is tested in one process on CPU; '
                           f'got --launcher {launcher} (allowed: --launcher '
                           'none)')
    # a deploy checkpoint holds packed weights: the model is rebuilt from
    # it, not loaded into the config's training model
    cfg.load_from = None if swap else checkpoint
    if not swap:
        return None
    if backend == 'openvino':

        def swap_model() -> nn.Module:
            work_dir = osp.join(cfg.work_dir, 'openvino')
            detector = _openvino_detector(cfg, checkpoint, work_dir,
                                          openvino_shape, int8, calib_images,
                                          int8_scope, openvino_model,
                                          openvino_threads)
            if roi_head_openvino:
                _box_head_on_openvino(detector, cfg, work_dir,
                                      calib_images, openvino_threads,
                                      openvino_model)
            return detector
    elif backend == 'float64':

        def swap_model() -> nn.Module:
            from .openvino import Float64NetworkDetector
            return Float64NetworkDetector.from_checkpoint(cfg, checkpoint)
    else:

        def swap_model() -> nn.Module:
            from . import load_deploy_model

            # the model (and its test_cfg) are the deploy file's, on CPU,
            # where the kernel runs
            return load_deploy_model(checkpoint, device='cpu',
                                     backend=backend)

    return swap_model


def _openvino_detector(cfg: Config, checkpoint: str, work_dir: str,
                       openvino_shape: Optional[str], int8: bool,
                       calib_images: Optional[int],
                       int8_scope: Optional[str],
                       openvino_model: Optional[str],
                       openvino_threads: Optional[int]) -> nn.Module:
    """The :class:`~mmbnn.deploy.openvino.OpenVINODetector` of
    ``--deploy-backend openvino`` and its options."""
    from .openvino import OpenVINODetector
    if int8:
        return OpenVINODetector.from_checkpoint_int8(
            cfg, checkpoint, work_dir, calib_images,
            threads=openvino_threads, scope=int8_scope)
    if openvino_model is not None:
        return OpenVINODetector.from_openvino_model(
            cfg, checkpoint, openvino_model, work_dir,
            threads=openvino_threads)
    return OpenVINODetector.from_checkpoint(
        cfg, checkpoint, work_dir, threads=openvino_threads,
        per_shape=openvino_shape != STATIC_SHAPE)


def _box_head_on_openvino(detector: nn.Module, cfg: Config, work_dir: str,
                          calib_images: Optional[int],
                          threads: Optional[int],
                          openvino_model: Optional[str]) -> None:
    """Put the detector's box head on OpenVINO in the network's precision.

    An INT8 network (``--int8``, or a prebuilt INT8 IR) gets an INT8 box
    head: the :data:`~mmbnn.deploy.openvino_roi_head.BOX_HEAD_INT8_IR`
    beside a prebuilt IR when there is one, else one calibrated on the RoI
    features of as many images of the config's test (or val) dataset as
    the network was (at most all of them), saved as that file in
    ``work_dir`` for the next evaluation of the same IR.
    """
    from .int8 import DEFAULT_CALIB_IMAGES
    from .loading import load_student_config
    from .openvino_roi_head import (BOX_HEAD_INT8_IR, export_int8_box_head,
                                    use_openvino_box_head)
    int8_info = detector.info.get('int8')
    if not int8_info:
        use_openvino_box_head(detector, work_dir, threads)
        return
    if openvino_model is not None:
        beside = osp.join(osp.dirname(openvino_model), BOX_HEAD_INT8_IR)
        if osp.isfile(beside):
            use_openvino_box_head(detector, work_dir, threads,
                                  network=beside)
            return
    path = osp.join(work_dir, BOX_HEAD_INT8_IR)
    export_int8_box_head(
        detector, load_student_config(cfg), calib_images
        or int8_info.get('calib_images') or DEFAULT_CALIB_IMAGES, path,
        cap=calib_images is None)
    use_openvino_box_head(detector, work_dir, threads, network=path)


def _check_openvino_options(backend: str, openvino_shape: Optional[str],
                            int8: bool, calib_images: Optional[int],
                            openvino_model: Optional[str],
                            openvino_threads: Optional[int],
                            int8_scope: Optional[str] = None,
                            roi_head_openvino: bool = False) -> None:
    """Refuse OpenVINO options that do not apply (each named with its
    allowed values)."""
    given = [flag for flag, value in (
        ('--openvino-shape', openvino_shape is not None),
        ('--int8', int8), ('--calib-images', calib_images is not None),
        ('--int8-scope', int8_scope is not None),
        ('--openvino-model', openvino_model is not None),
        ('--openvino-threads', openvino_threads is not None),
        ('--roi-head-openvino', roi_head_openvino)) if value]
    if given and backend != 'openvino':
        raise ValueError(f'{", ".join(given)} applies to --deploy-backend '
                         f'openvino only; got --deploy-backend {backend}')
    if calib_images is not None:
        if not int8:
            raise ValueError('--calib-images applies to --int8 only')
        if calib_images < 1:
            raise ValueError(f'--calib-images {calib_images}: must be >= 1')
    if int8_scope is not None:
        if not int8:
            raise ValueError('--int8-scope applies to --int8 only')
        from .int8 import INT8_SCOPES
        check_choice('int8_scope', int8_scope, INT8_SCOPES)
    if openvino_threads is not None and openvino_threads < 1:
        raise ValueError(f'--openvino-threads {openvino_threads}: must be '
                         '>= 1')
    static = '--int8' if int8 else '--openvino-model' if openvino_model \
        else None
    if int8 and openvino_model is not None:
        raise ValueError('--int8 quantizes a fresh export; --openvino-model '
                         'runs a prebuilt IR (an INT8 one is already '
                         'quantized): give one of them')
    if static and openvino_shape not in (None, STATIC_SHAPE):
        raise ValueError(
            f'{static} runs one network at a static input shape: '
            f'--openvino-shape {openvino_shape} is not allowed (allowed: '
            f'{STATIC_SHAPE}, the default with {static})')
    if openvino_model is not None and (
            not openvino_model.endswith('.xml')
            or not osp.isfile(openvino_model)):
        raise ValueError(f'--openvino-model {openvino_model}: must be an '
                         'existing OpenVINO IR .xml file (with its .bin)')
