# Copyright (c) mmbnn contributors. All rights reserved.
"""Write GlyphCls, the classification benchmark of real font glyphs on real
photographs (CIFAR-10's python-pickle layout).

Example:
    python tools/dataset_converters/make_glyph_cls.py data/glyph_cls
"""
import argparse

from mmbnn.datasets import generate_glyph_cls


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='output folder, e.g. data/glyph_cls')
    parser.add_argument('--num-train', type=int, default=20000)
    parser.add_argument('--num-test', type=int, default=4000)
    parser.add_argument('--image-size', type=int, default=32)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if the folder is up to date')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    info = generate_glyph_cls(
        args.root, num_train=args.num_train, num_test=args.num_test,
        image_size=args.image_size, seed=args.seed, force=args.force)
    counts = {split: sum(c) for split, c in info['counts'].items()}
    print(f'GlyphCls in {args.root}: {counts} images, '
          f'{len(info["params"]["classes"])} classes')


if __name__ == '__main__':
    main()
