# Copyright (c) mmbnn contributors. All rights reserved.
"""Benchmark the packed XNOR-popcount binary conv against float32 on CPU.

One interleaved run: torch's float32 ``conv2d`` vs the packed kernel on the
3x3 ResNet-18 layer shapes (64@56x56, 128@28x28, 256@14x14, 512@7x7, batch
1), and the whole BiRealResNet-18 backbone (float ``BinaryConv`` layers) vs
its deploy model (``mmbnn.deploy.convert_to_deploy``) on a 1x3x224x224
input. Prints medians, speed-ups, threads and the SIMD path that ran.

Example:
    python tools/analysis_tools/benchmark_binary_conv.py
    MMBNN_XNOR_SIMD=avx2 python tools/analysis_tools/benchmark_binary_conv.py \
        --threads 1 --repeats 50
"""
import argparse
import os

import torch

from mmbnn.analysis.benchmark_binary_conv import (RESNET18_LAYERS,
                                                  benchmark_binary_conv,
                                                  cpu_name, format_table)
from mmbnn.ops import xnor


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=50,
                        help='timed interleaved rounds (default: 50)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads for both sides (default: '
                        "torch's default)")
    parser.add_argument('--depth', type=int, default=18, choices=(0, 18, 34),
                        help='BiRealResNet depth; 0 skips the backbone')
    parser.add_argument('--image-size', type=int, default=224)
    parser.add_argument('--keep-denormals', action='store_true',
                        help='keep float32 denormals (by default they are '
                        'flushed to zero, as deployed inference does)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not xnor.is_available():
        raise SystemExit('the XNOR kernel is not built: '
                         f'{xnor.import_error()}\nreinstall with `pip install '
                         '--no-build-isolation --no-deps -e .`')
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f'--threads={args.threads} must be >= 1')
        torch.set_num_threads(args.threads)
    flushed = not args.keep_denormals and torch.set_flush_denormal(True)
    result = benchmark_binary_conv(RESNET18_LAYERS, args.depth,
                                   args.image_size, args.repeats, args.warmup)
    forced = os.environ.get(xnor.SIMD_ENV)
    print(f'cpu: {cpu_name()} ({os.cpu_count()} logical CPUs); torch '
          f'{torch.__version__}')
    print(f"threads: {result['threads']} (torch.get_num_threads(), both "
          f"sides); SIMD path: {result['simd']}"
          f"{f' (forced by {xnor.SIMD_ENV}={forced})' if forced else ''}"
          f'; denormals flushed: {flushed}')
    print(f"{result['repeats']} interleaved rounds after {args.warmup} "
          'warm-up; medians; speed-up = float32 / packed')
    backbone = result['backbone']
    if backbone:
        print(f"backbone: {backbone['packed_layers']} packed binary convs, "
              f"kernel used: {backbone['uses_kernel']}, largest output "
              'difference deploy vs float (relative to max |output|): '
              f"{backbone['max_relative_difference']:.2e}")
    print(format_table(result))


if __name__ == '__main__':
    main()
