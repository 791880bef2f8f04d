# Copyright (c) mmbnn contributors. All rights reserved.
"""Write the synthetic demo dataset (VOC XML + COCO JSON layouts).

Example:
    python tools/dataset_converters/make_demo_dataset.py data/demo
"""
import argparse
import json

from mmbnn.datasets import generate_demo_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='output folder, e.g. data/demo')
    parser.add_argument('--num-trainval', type=int, default=240)
    parser.add_argument('--num-test', type=int, default=60)
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if the folder is up to date')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    info = generate_demo_dataset(
        args.root, num_trainval=args.num_trainval, num_test=args.num_test,
        image_size=args.image_size, seed=args.seed, force=args.force)
    print(f'demo dataset in {args.root}: {json.dumps(info["stats"])}')


if __name__ == '__main__':
    main()
