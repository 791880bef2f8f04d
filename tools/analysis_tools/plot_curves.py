# Copyright (c) mmbnn contributors. All rights reserved.
"""Plot the training curves of an MMEngine work dir as PNGs.

Losses, the gradient norm, mAP or top-1 per evaluation, StoMPP's per-layer
frozen fraction and SURGE's per-layer lambda and gradient norms go to
WORK_DIR/plots (plots without data are skipped).

Example:
    python tools/analysis_tools/plot_curves.py work_dirs/demo_surge
"""
import argparse

from mmbnn.analysis import PLOTS, plot_curves


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='the training work dir')
    parser.add_argument(
        '--out-dir', help='where the PNGs go (default: WORK_DIR/plots)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    rendered = plot_curves(args.work_dir, args.out_dir)
    for name, plot in rendered.items():
        print(f'{name:<14}: {plot.path} ({len(plot.series)} series)')
    skipped = [name for name in PLOTS if name not in rendered]
    if skipped:
        print(f'skipped (no data in the log): {", ".join(skipped)}')


if __name__ == '__main__':
    main()
