# Copyright (c) mmbnn contributors. All rights reserved.
"""Benchmark training steps of FP, STE, SURGE, StoMPP and StoMPP+STE (or any
configs)
side by side in one run, and print median step time and memory with their
ratios to STE.

Example:
    python tools/analysis_tools/benchmark_training.py --steps 10
    python tools/analysis_tools/benchmark_training.py \
        --configs STE=configs/demo/faster_rcnn_r18_ste_demo.py \
                  SURGE=configs/demo/faster_rcnn_r18_surge_demo.py
"""
import argparse
import json
import platform

import torch

from mmbnn.analysis.benchmark_training import benchmark_training, format_rows
from mmbnn.utils import trust_mmengine_checkpoints

DEFAULT_CONFIGS = {
    'FP': 'configs/demo/faster_rcnn_r18_fp_demo.py',
    'STE': 'configs/demo/faster_rcnn_r18_ste_demo.py',
    'SURGE': 'configs/demo/faster_rcnn_r18_surge_demo.py',
    'StoMPP': 'configs/demo/faster_rcnn_r18_stompp_demo.py',
    'StoMPP+STE': 'configs/demo/faster_rcnn_r18_stompp_ste_demo.py',
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--configs', nargs='+', metavar='NAME=CONFIG',
        help='configs to compare (default: the FP/STE/SURGE demo configs)')
    parser.add_argument('--reference', default='STE')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument(
        '--image-size', type=int, nargs='+', default=[128], metavar='SIZE',
        help='image side, or height and width (default: 128)')
    parser.add_argument(
        '--out', help='also write the rows as JSON to this file')
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    trust_mmengine_checkpoints()  # trained checkpoints (a KD teacher's too)
    configs = DEFAULT_CONFIGS
    if args.configs:
        configs = dict(item.split('=', 1) for item in args.configs)
    if len(args.image_size) not in (1, 2):
        raise SystemExit('--image-size takes one or two values (h w), got '
                         f'{args.image_size}')
    size = args.image_size[0] if len(args.image_size) == 1 else tuple(
        args.image_size)
    rows = benchmark_training(configs, args.batch_size, size,
                              args.steps, args.warmup, args.device,
                              args.reference)
    device = (torch.cuda.get_device_name() if args.device.startswith('cuda')
              else f'{platform.processor() or "cpu"}, '
              f'{torch.get_num_threads()} threads')
    print(f'device: {device}; batch {args.batch_size} x '
          f"{'x'.join(map(str, args.image_size))} px;"
          f' {args.steps} interleaved steps per config after {args.warmup} '
          'warm-up')
    print('memory: ' + ('peak CUDA allocated' if args.device.startswith(
        'cuda') else 'params + grads + optimizer state + tensors saved for '
                     'backward'))
    print(format_rows(rows, args.reference))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(device=device, batch_size=args.batch_size,
                           image_size=args.image_size, rows=rows), f,
                      indent=1)


if __name__ == '__main__':
    main()
