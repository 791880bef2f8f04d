# Copyright (c) mmbnn contributors. All rights reserved.
"""Test (and evaluate) a detector (or classifier) with mmdet's flags::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out x.pkl]
        [--show] [--show-dir DIR] [--wait-time S] [--tta]
        [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
        [--deploy-backend {auto,kernel,reference,openvino,float64}]
        [--openvino-shape {per-input,fixed}]
        [--int8 [--calib-images N] [--int8-scope S] |
         --openvino-model MODEL.xml]
        [--openvino-threads N] [--roi-head-openvino]

CHECKPOINT may be a deploy checkpoint of ``tools/deploy/export.py``: the
packed model is then evaluated on CPU (``--deploy-backend {auto,kernel,
reference}``). ``--deploy-backend openvino`` evaluates a training or
(unfused) deploy checkpoint with its network exported to ONNX and run on
OpenVINO; ``--deploy-backend float64`` with that network in float64 in
PyTorch (the reference for comparing runtimes). With ``--deploy-backend
openvino``, ``--int8`` quantizes the exported network to INT8 first (as
``tools/deploy/export_onnx.py --int8``, calibrated on ``--calib-images``
images of the config's test or val dataset) and ``--openvino-model``
evaluates a prebuilt IR of ``tools/deploy/export_onnx.py`` (float or INT8)
instead, its inputs and outputs checked against the config's export.
``--roi-head-openvino`` also runs a two-stage detector's RoI box head on
OpenVINO (in INT8 when the network is INT8), as ``benchmark_detector.py
--roi-head-openvino`` times it.
"""
import argparse
import os

from mmengine.config import DictAction

from mmbnn.apis import build_runner
from mmbnn.deploy.backends import OPENVINO_SHAPES, TEST_BACKENDS
from mmbnn.deploy.int8 import add_int8_options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file: a training checkpoint, or a deploy checkpoint '
        'of tools/deploy/export.py (then the packed model it rebuilds is '
        'tested, on CPU, one process)')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out', type=str,
        help='dump raw predictions to this pickle file for offline eval')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='directory to save images with drawn predictions')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs in xxx=yyy '
        'format merged into the config (e.g. '
        'test_dataloader.batch_size=4)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation: the config\'s tta_model and '
        'tta_pipeline, else a horizontal flip')
    parser.add_argument(
        '--deploy-backend', default='auto', choices=TEST_BACKENDS,
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
        '--openvino-shape', default=None, choices=OPENVINO_SHAPES,
        help="with --deploy-backend openvino: 'per-input' (default) exports "
        'one network per input shape met (the PyTorch outputs to float '
        "rounding); 'fixed' one network at the test pipeline's largest "
        'size (and its transpose for portrait images), smaller images '
        'padded to it, as a static deployment runs')
    parser.add_argument(
        '--int8', action='store_true',
        help='with --deploy-backend openvino: quantize the exported '
        'network\'s real-valued convs and FCs to INT8 (NNCF, as '
        'tools/deploy/export_onnx.py --int8; binarized convs stay '
        'BinaryConvolution) and evaluate it at the static input shape')
    add_int8_options(parser)
    parser.add_argument(
        '--openvino-model', default=None, metavar='XML',
        help='with --deploy-backend openvino: evaluate this prebuilt '
        'OpenVINO IR (float or INT8) of tools/deploy/export_onnx.py '
        '--openvino for CONFIG / CHECKPOINT; its inputs and outputs must '
        'match the config\'s export')
    parser.add_argument(
        '--openvino-threads', type=int, default=None, metavar='N',
        help='with --deploy-backend openvino: OpenVINO inference threads')
    parser.add_argument(
        '--roi-head-openvino', action='store_true',
        help='with --deploy-backend openvino, two-stage detectors: the RoI '
        'box head\'s FCs run on OpenVINO too, in INT8 when the network is '
        '(--int8 or an INT8 --openvino-model; calibrated on the RoI '
        'features of as many images as the network)')
    # torch.distributed.launch passes --local-rank (torch >= 2.0)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    runner = build_runner(
        args.config, 'test', checkpoint=args.checkpoint,
        work_dir=args.work_dir, cfg_options=args.cfg_options,
        launcher=args.launcher, out=args.out, show=args.show,
        show_dir=args.show_dir, wait_time=args.wait_time, tta=args.tta,
        deploy_backend=args.deploy_backend,
        openvino_shape=args.openvino_shape, int8=args.int8,
        calib_images=args.calib_images, int8_scope=args.int8_scope,
        openvino_model=args.openvino_model,
        openvino_threads=args.openvino_threads,
        roi_head_openvino=args.roi_head_openvino)
    runner.test()


if __name__ == '__main__':
    main()
