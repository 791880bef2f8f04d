# Copyright (c) mmbnn contributors. All rights reserved.
"""Write GlyphBench, the benchmark of real photographs and real font glyphs
(VOC XML + COCO JSON layouts).

Example:
    python tools/dataset_converters/make_glyph_bench.py data/glyph_bench
"""
import argparse
import json

from mmbnn.datasets import generate_glyph_bench


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='output folder, e.g. data/glyph_bench')
    parser.add_argument('--num-trainval', type=int, default=400)
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--image-size', type=int, default=192)
    parser.add_argument('--min-obj', type=int, default=16)
    parser.add_argument('--max-obj', type=int, default=64)
    parser.add_argument('--max-objects', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if the folder is up to date')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    info = generate_glyph_bench(
        args.root, num_trainval=args.num_trainval, num_test=args.num_test,
        image_size=args.image_size, min_obj=args.min_obj,
        max_obj=args.max_obj, max_objects=args.max_objects, seed=args.seed,
        force=args.force)
    print(f'GlyphBench in {args.root}: {json.dumps(info["stats"])}')


if __name__ == '__main__':
    main()
