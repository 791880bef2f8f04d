# Copyright (c) mmbnn contributors. All rights reserved.
"""Benchmark the cost of the NaN/Inf activation check in training steps.

A binary ResNet (mmdet's ResNet with ``BinaryConv`` convs, the RGB stem
kept real) plus a linear classifier trains with SGD on one random batch;
steps with the check (every ``BinaryConv`` records its non-finite flag and
the flags are read once per step, as ``NonFiniteCheckHook`` does) and
without it are interleaved, so machine noise hits both alike. Prints the
median step times and their ratio: wall time on CUDA, the process's CPU
time on CPU (less sensitive to other processes on a shared machine; run
it with one thread, ``OMP_NUM_THREADS=1``, for the same reason).

Example:
    python tools/analysis_tools/benchmark_nonfinite_check.py --steps 40
"""
import argparse
import platform
import statistics
import time

import torch
from torch import nn

from mmbnn.engine.nonfinite import binary_convs, nonfinite_layers


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depth', type=int, default=18, choices=(18, 34))
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=40,
                        help='timed steps per setting (default: 40)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument(
        '--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    return parser.parse_args()


def build_model(depth: int) -> nn.Module:
    from mmdet.models.backbones import ResNet
    backbone = ResNet(
        depth, out_indices=(3, ),
        conv_cfg=dict(type='BinaryConv', keep_real=('rgb_input', )))
    return nn.Sequential(backbone, _Head(512, 10))  # ResNet-18/34: 512


class _Head(nn.Module):

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, classes)

    def forward(self, feats):
        return self.fc(feats[-1].mean(dim=(2, 3)))


def main() -> None:
    args = parse_args()
    import mmbnn  # noqa: F401  (registers BinaryConv)
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = build_model(args.depth).to(device).train()
    convs = binary_convs(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size,
                    device=device)
    y = torch.randint(10, (args.batch_size, ), device=device)

    cuda = device.type == 'cuda'
    clock = time.perf_counter if cuda else time.process_time

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def step(check: bool) -> float:
        for conv in convs.values():
            conv.check_nonfinite = check
        sync()
        start = clock()
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if check and nonfinite_layers(convs):  # the hook's one read
            raise FloatingPointError('non-finite activations')
        sync()
        return clock() - start

    for _ in range(args.warmup):
        step(False), step(True)
    times = {False: [], True: []}
    for i in range(args.steps):
        # alternate which setting goes first
        for check in ((False, True) if i % 2 == 0 else (True, False)):
            times[check].append(step(check))
    off, on = (statistics.median(times[c]) * 1e3 for c in (False, True))
    where = (torch.cuda.get_device_name() if cuda else
             f'{platform.processor() or "cpu"}, {torch.get_num_threads()} '
             'threads')
    print(f'device: {where}; binary ResNet-{args.depth} ({len(convs)} '
          f'BinaryConv), batch {args.batch_size} x {args.image_size} px, '
          f'{args.steps} interleaved steps per setting after {args.warmup} '
          'warm-up')
    print(f'{"setting":<12}{"median step (ms)":>18}  '
          f'({"wall" if cuda else "process CPU"} time)')
    print(f'{"no check":<12}{off:>18.2f}')
    print(f'{"check":<12}{on:>18.2f}')
    print(f'ratio check / no check: {on / off:.3f}')


if __name__ == '__main__':
    main()
