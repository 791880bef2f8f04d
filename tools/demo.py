# Copyright (c) mmbnn contributors. All rights reserved.
"""The CPU demo behind ``make demo``: generate the synthetic dataset, train a
binarized Faster R-CNN R18-FPN (validated every ``--val-interval`` epochs),
evaluate it with mmdet's VOC metric, plot the training curves, draw a few
test images with their ground truth and detections, and print where
everything went.

Example:
    python tools/demo.py --config configs/demo/faster_rcnn_r18_ste_demo.py
"""
import argparse

from mmengine.config import DictAction

from mmbnn.analysis import plot_curves
from mmbnn.apis import train_and_evaluate


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--config', default='configs/demo/faster_rcnn_r18_ste_demo.py')
    parser.add_argument('--work-dir',
                        default='work_dirs/demo_faster_rcnn_r18_ste')
    parser.add_argument('--data-root', default='data/demo')
    parser.add_argument(
        '--val-interval', type=int, default=2,
        help='validate every N epochs during training (the mAP curve)')
    parser.add_argument(
        '--num-images', type=int, default=4,
        help='test images drawn with ground truth and detections')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    result = train_and_evaluate(args.config, args.work_dir, args.data_root,
                                args.cfg_options, args.val_interval,
                                args.num_images)
    metrics = result['metrics']
    print('\n==== mmbnn demo ====')
    print(f'config      : {result["config"]}')
    print(f'VOC mAP@0.5 : {metrics["pascal_voc/mAP"]:.3f} '
          '(mmdet VOCMetric, 11 points, demo test split)')
    print(f'work dir    : {result["work_dir"]}')
    print(f'checkpoint  : {result["checkpoint"]}')
    print(f'result file : {result["work_dir"]}/demo_result.json')
    for name, plot in plot_curves(result['work_dir']).items():
        print(f'plot        : {plot.path} ({name})')
    for path in result['images']:
        print(f'image       : {path} (ground truth | detections)')


if __name__ == '__main__':
    main()
