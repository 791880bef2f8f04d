# Copyright (c) mmbnn contributors. All rights reserved.
"""The command-line surface of ``tools/train.py`` and ``tools/test.py``.

The flags and their meaning are mmdet 3.3's (``--work-dir``,
``--cfg-options``, ``--resume``, ``--amp``, ``--auto-scale-lr``,
``--launcher``, ``--out``, ``--show-dir``); the logic lives here so that both
tools stay a few lines long and the tests can drive it without a subprocess.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from ..engine import setup_cpu_distributed
from ..utils import trust_mmengine_checkpoints

#: --deploy-backend values that run the network part apart from the
#: detector's post-processing (mmbnn.deploy.openvino.NetworkSplitDetector)
SPLIT_BACKENDS = ('openvino', 'float64')


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs in xxx=yyy '
        'format merged into the config (e.g. '
        'train_dataloader.batch_size=4 model.backbone.init_cfg=None)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def train_parser() -> argparse.ArgumentParser:
    """Arguments of ``tools/train.py`` (mmdet's)."""
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--amp', action='store_true',
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the lr with the total batch size (auto_scale_lr)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or, without a value, from the '
        'latest checkpoint in the work dir')
    _common(parser)
    return parser


def test_parser() -> argparse.ArgumentParser:
    """Arguments of ``tools/test.py`` (mmdet's)."""
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file: a training checkpoint, or a deploy checkpoint '
        'of tools/deploy/export.py (then the packed model it rebuilds is '
        'tested, on CPU, one process)')
    parser.add_argument(
        '--out', type=str,
        help='dump raw predictions to this pickle file for offline eval')
    parser.add_argument(
        '--show-dir', help='directory to save images with drawn predictions')
    parser.add_argument(
        '--deploy-backend', default='auto',
        choices=('auto', 'kernel', 'reference', 'openvino', 'float64'),
        help='packed-conv backend of a deploy checkpoint: the XNOR kernel '
        "('auto': when built), or the float reference, which predicts bit "
        "for bit as the trained model. 'openvino' (any checkpoint but a "
        'fused deploy one): the network is exported to ONNX in the work dir '
        'and runs on OpenVINO with BinaryConvolution layers, the rest of '
        "the detector in PyTorch, on CPU, one process. 'float64' (the same "
        'checkpoints): that network in float64 in PyTorch, free of float32 '
        'rounding at the binarization thresholds: the reference for '
        'comparing runtimes')
    parser.add_argument(
        '--openvino-shape', default=None,
        choices=('per-input', 'fixed'),
        help="with --deploy-backend openvino: 'per-input' (default) exports "
        'one network per input shape met (the PyTorch outputs to float '
        "rounding); 'fixed' one network at the test pipeline's largest "
        'size (and its transpose for portrait images), smaller images '
        'padded to it, as a static deployment runs')
    _common(parser)
    return parser


def build_runner(args: argparse.Namespace, mode: str) -> Runner:
    """Build the Runner for ``mode`` (``'train'`` or ``'test'``) the way
    mmdet's tools do.

    Args:
        args (argparse.Namespace): Parsed arguments of :func:`train_parser`
            or :func:`test_parser`.
        mode (str): ``'train'`` or ``'test'``.

    Returns:
        Runner: The runner; call ``.train()`` or ``.test()`` on it.
    """
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    import mmbnn  # noqa: F401  (registers modules if custom_imports is absent)
    trust_mmengine_checkpoints()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    deploy = False  # test mode: the model is not the config's (see below)
    backend = getattr(args, 'deploy_backend', 'auto')
    if mode == 'test':
        from ..deploy import is_deploy_checkpoint
        openvino = backend == 'openvino'
        if getattr(args, 'openvino_shape', None) is not None and \
                not openvino:
            raise ValueError('--openvino-shape applies to --deploy-backend '
                             f'openvino only; got --deploy-backend {backend}')
        split = backend in SPLIT_BACKENDS
        deploy = split or is_deploy_checkpoint(args.checkpoint)
        if deploy and cfg.launcher != 'none':
            what = (f'--deploy-backend {backend}' if split else
                    'a deploy checkpoint')
            raise RuntimeError(f'{what} is tested in one process on CPU; '
                               f'got --launcher {cfg.launcher}')
    setup_cpu_distributed(cfg)  # gloo when CUDA is absent
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if mode == 'train':
        if args.amp:
            from ..engine import AMP_WRAPPERS
            kind = cfg.optim_wrapper.get('type', 'OptimWrapper')
            if kind not in AMP_WRAPPERS and kind not in \
                    AMP_WRAPPERS.values():
                raise ValueError(
                    f'--amp: optim_wrapper.type={kind!r} has no mixed-'
                    f'precision form; allowed values: '
                    f'{", ".join(sorted(AMP_WRAPPERS))}')
            cfg.optim_wrapper.type = AMP_WRAPPERS.get(kind, kind)
            cfg.optim_wrapper.loss_scale = 'dynamic'
        if args.auto_scale_lr:
            if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
                raise RuntimeError('--auto-scale-lr needs '
                                   'auto_scale_lr.base_batch_size in the '
                                   'config')
            cfg.auto_scale_lr.enable = True
        if args.resume == 'auto':
            cfg.resume, cfg.load_from = True, None
        elif args.resume is not None:
            cfg.resume, cfg.load_from = True, args.resume
    elif mode == 'test':
        # a deploy checkpoint holds packed weights: the model is rebuilt from
        # it below, not loaded into the config's training model
        cfg.load_from = None if deploy else args.checkpoint
        if args.show_dir:
            vis = cfg.default_hooks.get('visualization')
            if vis is None:
                raise RuntimeError('--show-dir needs default_hooks.'
                                   'visualization (DetVisualizationHook)')
            vis.draw = True
            vis.test_out_dir = args.show_dir
        if args.out is not None:
            if not args.out.endswith(('.pkl', '.pickle')):
                raise ValueError('--out must end with .pkl or .pickle, got '
                                 f'{args.out!r}')
            evaluators = cfg.test_evaluator
            if not isinstance(evaluators, list):
                evaluators = [evaluators]
            cfg.test_evaluator = evaluators + [
                dict(type='DumpDetResults', out_file_path=args.out)
            ]
    else:
        raise ValueError(f'mode={mode!r}; allowed values: train, test')
    runner = Runner.from_cfg(cfg)
    if mode == 'test' and deploy and backend == 'openvino':
        from ..deploy.openvino import OpenVINODetector
        runner.model = OpenVINODetector.from_checkpoint(
            cfg, args.checkpoint, osp.join(cfg.work_dir, 'openvino'),
            per_shape=getattr(args, 'openvino_shape', None) != 'fixed')
    elif mode == 'test' and deploy and backend == 'float64':
        from ..deploy.openvino import Float64NetworkDetector
        runner.model = Float64NetworkDetector.from_checkpoint(
            cfg, args.checkpoint)
    elif mode == 'test' and deploy:
        from ..deploy import load_deploy_model
        # the data pipeline and evaluator are the config's; the model (and
        # its test_cfg) the deploy file's, on CPU, where the kernel runs
        runner.model = load_deploy_model(args.checkpoint, device='cpu',
                                         backend=backend)
    return runner


def run(mode: str, argv: Optional[Sequence[str]] = None) -> Runner:
    """Parse ``argv`` and run training or testing."""
    parser = train_parser() if mode == 'train' else test_parser()
    runner = build_runner(parser.parse_args(argv), mode)
    runner.train() if mode == 'train' else runner.test()
    return runner
