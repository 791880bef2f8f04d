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
  OpenVINODetector`);
- ``float64``: that network in float64 in PyTorch (:class:`~mmbnn.deploy.
  openvino.Float64NetworkDetector`).

Every swapped model runs in one process, on CPU.
"""
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

#: builds the model a test runner evaluates in place of the config's
ModelSwap = Callable[[], nn.Module]


def prepare_test_backend(cfg: Config,
                         checkpoint: str,
                         backend: str = 'auto',
                         openvino_shape: Optional[str] = None
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

    Returns:
        Callable | None: Builds the model to evaluate in place of the
        config's, or None when the config's model is tested.

    Raises:
        ValueError: An unknown ``backend``/``openvino_shape``, or
            ``openvino_shape`` without ``backend='openvino'``.
        RuntimeError: A swapped model with ``cfg.launcher`` other than
            ``'none'``.
    """
    from . import is_deploy_checkpoint
    check_choice('deploy_backend', backend, TEST_BACKENDS)
    if openvino_shape is not None:
        check_choice('openvino_shape', openvino_shape, OPENVINO_SHAPES)
        if backend != 'openvino':
            raise ValueError('--openvino-shape applies to --deploy-backend '
                             f'openvino only; got --deploy-backend {backend}')
    split = backend in SPLIT_BACKENDS
    swap = split or is_deploy_checkpoint(checkpoint)
    launcher = cfg.get('launcher', 'none')
    if swap and launcher != 'none':
        what = (f'--deploy-backend {backend}' if split else
                'a deploy checkpoint')
        raise RuntimeError(f'{what} is tested in one process on CPU; '
                           f'got --launcher {launcher}')
    # a deploy checkpoint holds packed weights: the model is rebuilt from
    # it, not loaded into the config's training model
    cfg.load_from = None if swap else checkpoint
    if not swap:
        return None
    if backend == 'openvino':

        def swap_model() -> nn.Module:
            import os.path as osp

            from .openvino import OpenVINODetector
            return OpenVINODetector.from_checkpoint(
                cfg, checkpoint, osp.join(cfg.work_dir, 'openvino'),
                per_shape=openvino_shape != 'fixed')
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
