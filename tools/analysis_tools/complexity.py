# Copyright (c) mmbnn contributors. All rights reserved.
"""Per-layer params, BOPs and FLOPs of the model a config builds.

Prints precision, weight bits, params, BOPs and FLOPs of every conv/linear,
counted during one real forward pass, and the totals (params by precision,
deploy size, BOPs, FLOPs, OPs = BOPs / 64 + FLOPs).

Example:
    python tools/analysis_tools/complexity.py \
        configs/faster_rcnn_r18_ste_voc.py --shape 600 1000 --out cx.json
"""
import argparse
import json

from mmengine.config import DictAction

from mmbnn.analysis import config_complexity, format_table


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'),
        help='dummy image size before padding (default: the scale of the '
        "config's test-time Resize)")
    parser.add_argument(
        '--proposals', type=int,
        help='proposals the RoI head runs on (default: the RPN test_cfg '
        'max_per_img)')
    parser.add_argument('--out', help='also write the report to this JSON')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value pairs')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    result = config_complexity(args.config, args.shape, args.cfg_options,
                               args.proposals)
    print(format_table(result))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, **result.to_dict()), f,
                      indent=2)
        print(f'report written to {args.out}')


if __name__ == '__main__':
    main()
