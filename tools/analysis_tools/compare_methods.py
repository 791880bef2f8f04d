# Copyright (c) mmbnn contributors. All rights reserved.
"""Train every config x seed, evaluate each with the config's metric (mAP@0.5
for detection, top-1 accuracy for classification) and summarize mean +/-
std over seeds (summary.md, summary.json, summary.png
in the work dir).

Runs go one at a time (``--jobs N``: N at once); finished runs are skipped
and an interrupted run resumes from its last checkpoint, so the command can
simply be rerun.

Example:
    python tools/analysis_tools/compare_methods.py \\
        configs/bench/faster_rcnn_r18_ste_bench.py \\
        configs/bench/faster_rcnn_r18_surge_bench.py \\
        --seeds 0 1 2 --work-dir work_dirs/compare_r18 \\
        --reference configs/bench/faster_rcnn_r18_ste_bench.py
"""
import argparse
import shlex
import sys

from mmengine.config import DictAction

from mmbnn.analysis.compare import compare


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        help='seeds of every config (default: 0 1 2)')
    parser.add_argument('--work-dir', required=True,
                        help='root of the run dirs and the summary')
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='runs trained at once, each in its own process (default: 1); '
        'on one GPU they share it')
    parser.add_argument(
        '--reference',
        help='a config of the list: the summary adds every other config\'s '
        'paired difference to it, seed by seed')
    parser.add_argument(
        '--summary-only', action='store_true',
        help='train nothing: summarize the finished runs of the configs x '
        'seeds')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='overrides applied to every run, key=value (as tools/train.py)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    command = ' '.join(shlex.quote(a) for a in ['python'] + sys.argv)
    summary = compare(args.configs, args.seeds, args.work_dir,
                      cfg_options=args.cfg_options, command=command,
                      train=not args.summary_only, jobs=args.jobs,
                      reference=args.reference)
    for name, entry in summary.items():
        m = entry['score']
        print(f"{name:<45} {entry['metric']} {m['mean']:.4f} ± "
              f"{m['std']:.4f} (seeds {entry['seeds']})")
    print(f'summary: {args.work_dir}/summary.md, summary.json, summary.png')


if __name__ == '__main__':
    main()
