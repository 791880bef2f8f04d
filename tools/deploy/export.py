# Copyright (c) mmbnn contributors. All rights reserved.
"""Export a trained binary detector as a deploy checkpoint:
``python tools/deploy/export.py CONFIG CHECKPOINT OUT [--force] [--fuse]
[--cfg-options k=v ...]``.

SURGE branches and StoMPP state are dropped, binarized conv weights are
stored as packed bits plus per-channel scales, real-valued layers are kept
as they are (``--fuse``: BNs folded into the packed convs' scales and
biases, shortcut adds and RPReLUs fused into their output stage; faster,
equal to float rounding rather than bit-exact). Rebuild the model with
``mmbnn.deploy.load_deploy_model(OUT)``.
"""
import argparse
import sys

from mmengine.config import DictAction

from mmbnn.deploy import export_deploy_checkpoint
from mmbnn.utils import trust_mmengine_checkpoints


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a deploy checkpoint with 1-bit packed weights')
    parser.add_argument('config', help='training config file')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument('out', help='deploy checkpoint to write (.pth)')
    parser.add_argument(
        '--force', action='store_true',
        help='export even if a StoMPP schedule has not finished (the '
        'partly real-valued entries are binarized; predictions change)')
    parser.add_argument(
        '--fuse', action='store_true',
        help='store the fused inference form (BN folded, shortcut adds and '
        'activations in the packed convs; equal to float rounding)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (key=value)')
    return parser.parse_args(argv)


def _mib(num_bytes: float) -> str:
    return f'{num_bytes / 2**20:.3f} MiB'


def main(argv=None) -> int:
    args = parse_args(argv)
    trust_mmengine_checkpoints()  # the training checkpoint is mmengine's
    try:
        report = export_deploy_checkpoint(
            args.config, args.checkpoint, args.out, force=args.force,
            cfg_options=args.cfg_options, fuse=args.fuse)
    except (RuntimeError, ValueError) as error:
        print(f'export failed: {error}', file=sys.stderr)
        return 1
    print(f"deploy checkpoint : {report['out']}"
          f"{' (fused)' if args.fuse else ''}")
    print(f"binarized layers  : {report['binary_layers']}, "
          f"{_mib(report['binary_layers_float_bytes'])} float32 -> "
          f"{_mib(report['binary_layers_deploy_bytes'])} packed "
          f"({report['binary_layers_ratio']:.1f}x smaller)")
    print(f"whole model       : {_mib(report['model_float_bytes'])} float32 "
          f"state dict -> {_mib(report['model_deploy_bytes'])} deploy "
          f"({report['model_ratio']:.2f}x smaller)")
    print(f"files on disk     : {_mib(report['checkpoint_file_bytes'])} "
          f"training checkpoint file -> "
          f"{_mib(report['out_file_bytes'])} deploy checkpoint")
    return 0


if __name__ == '__main__':
    sys.exit(main())
