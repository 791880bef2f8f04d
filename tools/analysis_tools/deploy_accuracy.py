# Copyright (c) mmbnn contributors. All rights reserved.
"""A checkpoint's test metric on deploy backends over input scalings, and
each backend's difference to the float64 network (the exact reference).

Each backend is evaluated as ``tools/test.py --deploy-backend`` does, at
input scalings ``1 + k * 2**-20`` (the data preprocessor's ``std`` divided
by the scaling; ``k = -(n // 2) .. n // 2`` for ``--scalings n``): a
binarized activation that lies within float rounding of its threshold
flips with such a scaling, so a backend is compared with the float64
network by the median over the scalings of the per-scaling differences.

Backends: ``float64``, ``openvino`` (float32 OpenVINO, a network per input
shape), ``openvino-int8`` (the network quantized to INT8 once, at scaling
1, with ``--calib-images`` images of the config's test or val dataset:
``tools/test.py --int8``; the other scalings evaluate that IR:
``tools/test.py --openvino-model``) and the ``tools/test.py`` backends of
deploy checkpoints (``auto``, ``kernel``, ``reference``). With
``--roi-head-openvino`` the OpenVINO backends run a two-stage detector's
RoI box head on OpenVINO too (INT8 in ``openvino-int8``).

The result is written (atomically) after every evaluation::

    python tools/analysis_tools/deploy_accuracy.py CONFIG CHECKPOINT \\
        --backends float64 openvino openvino-int8 --scalings 5 \\
        --calib-images 100 --openvino-threads 1 --out RESULT.json
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction

from mmbnn.apis import build_runner
from mmbnn.deploy.backends import TEST_BACKENDS
from mmbnn.deploy.int8 import INT8_SCOPES
from mmbnn.deploy.openvino import INT8_MODEL_NAME
from mmbnn.utils import atomic_file

#: the INT8 backend of this tool (tools/test.py --deploy-backend openvino
#: --int8, then --openvino-model)
INT8_BACKEND = 'openvino-int8'
BACKENDS = TEST_BACKENDS + (INT8_BACKEND, )
REFERENCE = 'float64'
#: the step of the input scalings
SCALING_STEP = 2.0**-20


def input_scalings(count: int) -> List[float]:
    """``count`` (odd) scalings ``1 + k * 2**-20``, 1 first, then
    ``k = -(count // 2) .. count // 2`` without 0."""
    if count < 1 or count % 2 == 0:
        raise ValueError(f'--scalings {count}: must be odd and >= 1')
    half = count // 2
    return [1.0] + [1 + k * SCALING_STEP for k in range(-half, half + 1)
                    if k]


def scaling_key(scaling: float) -> str:
    """The JSON key of a scaling: its ``k`` as ``'1+k*2^-20'``."""
    k = round((scaling - 1) / SCALING_STEP)
    return f'1{k:+d}*2^-20' if k else '1'


def evaluate(config: str, checkpoint: str, work_dir: str, options: Dict,
             backend: str, **kwargs) -> Dict[str, float]:
    """The test metrics of one ``tools/test.py`` run."""
    runner = build_runner(config, 'test', checkpoint=checkpoint,
                          work_dir=work_dir, cfg_options=options,
                          deploy_backend=backend, **kwargs)
    return {key: float(value) for key, value in runner.test().items()}


def summarize(maps: Dict[str, Dict[str, float]]) -> Dict:
    """Per backend other than the reference: the per-scaling differences
    to the float64 network and their median (scalings both have)."""
    summary = {}
    reference = maps.get(REFERENCE, {})
    for backend, per_scaling in maps.items():
        if backend == REFERENCE:
            continue
        diffs = {key: value - reference[key]
                 for key, value in per_scaling.items() if key in reference}
        if diffs:
            summary[backend] = dict(
                differences=diffs,
                median_difference=statistics.median(diffs.values()))
    return summary


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Test metric on deploy backends over input scalings')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='training or deploy checkpoint')
    parser.add_argument('--backends', nargs='+', choices=BACKENDS,
                        default=[REFERENCE, 'openvino', INT8_BACKEND],
                        help='backends to evaluate (default: float64 '
                        f'openvino {INT8_BACKEND})')
    parser.add_argument('--scalings', type=int, default=5,
                        help='input scalings 1 + k*2^-20 (odd; default 5: '
                        'k = -2..2)')
    parser.add_argument('--calib-images', type=int, default=None,
                        metavar='N', help=f'{INT8_BACKEND}: calibration '
                        'images (default 300)')
    parser.add_argument('--int8-scope', default=None, choices=INT8_SCOPES,
                        help=f'{INT8_BACKEND}: which real convs / FCs are '
                        "quantized (default 'after_binary', as tools/"
                        'test.py --int8-scope)')
    parser.add_argument('--roi-head-openvino', action='store_true',
                        help='openvino backends, two-stage detectors: the '
                        'RoI box head on OpenVINO too, in the network\'s '
                        'precision (tools/test.py --roi-head-openvino)')
    parser.add_argument('--openvino-threads', type=int, default=None,
                        metavar='N', help='OpenVINO inference threads')
    parser.add_argument('--metric', default=None,
                        help='metric key (default: the first the '
                        'evaluator reports, e.g. pascal_voc/mAP)')
    parser.add_argument('--work-dir', default=None,
                        help='exports and logs (default: work_dirs/'
                        'deploy_accuracy/<config name>)')
    parser.add_argument('--out', required=True, help='result JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (key=value)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    scalings = input_scalings(args.scalings)
    for flag, value in (('--calib-images', args.calib_images),
                        ('--int8-scope', args.int8_scope)):
        if value is not None and INT8_BACKEND not in args.backends:
            print(f'{flag} applies to --backends {INT8_BACKEND} only',
                  file=sys.stderr)
            return 1
    if args.roi_head_openvino and not {'openvino', INT8_BACKEND} & set(
            args.backends):
        print(f'--roi-head-openvino applies to --backends openvino and '
              f'{INT8_BACKEND} only', file=sys.stderr)
        return 1
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'deploy_accuracy',
        osp.splitext(osp.basename(args.config))[0])
    base = dict(args.cfg_options or {})
    std = Config.fromfile(args.config).model.data_preprocessor.std
    if 'model.data_preprocessor.std' in base:
        std = base['model.data_preprocessor.std']
    result = dict(config=args.config, checkpoint=args.checkpoint,
                  cfg_options=base, metric=args.metric,
                  scalings={scaling_key(s): s for s in sorted(scalings)},
                  calib_images=args.calib_images,
                  int8_scope=args.int8_scope,
                  openvino_threads=args.openvino_threads,
                  roi_head_openvino=args.roi_head_openvino, maps={},
                  wall_s={})
    int8_model: Optional[str] = None
    # scaling by scaling: the first (1) gives every backend's result early
    for scaling in scalings:
        key = scaling_key(scaling)
        options = dict(base, **{
            'model.data_preprocessor.std': [s / scaling for s in std]})
        for backend in args.backends:
            start = time.perf_counter()
            run_dir = osp.join(work_dir, backend, key)
            kwargs = {}
            test_backend = backend
            if backend in ('openvino', INT8_BACKEND):
                test_backend = 'openvino'
                kwargs.update(openvino_threads=args.openvino_threads,
                              roi_head_openvino=args.roi_head_openvino)
            if backend == INT8_BACKEND:
                if int8_model is None:
                    kwargs.update(int8=True, calib_images=args.calib_images,
                                  int8_scope=args.int8_scope)
                else:
                    kwargs['openvino_model'] = int8_model
            metrics = evaluate(args.config, args.checkpoint, run_dir,
                               options, test_backend, **kwargs)
            if backend == INT8_BACKEND and int8_model is None:
                int8_model = osp.join(run_dir, 'openvino', INT8_MODEL_NAME)
                result['int8_model'] = int8_model
            if result['metric'] is None:
                result['metric'] = next(iter(metrics))
            result['maps'].setdefault(backend, {})[key] = \
                metrics[result['metric']]
            result['wall_s'][backend] = round(
                result['wall_s'].get(backend, 0) + time.perf_counter() -
                start, 1)
            result['summary'] = summarize(result['maps'])
            print(f'{backend} at scaling {key}: {result["metric"]} = '
                  f'{metrics[result["metric"]]:.4f}', flush=True)
            with atomic_file(args.out) as tmp, open(tmp, 'w') as f:
                json.dump(result, f, indent=2)
    for backend, item in result['summary'].items():
        print(f'{backend} - {REFERENCE}: median '
              f'{item["median_difference"]:+.4f} over '
              f'{len(item["differences"])} scalings')
    return 0


if __name__ == '__main__':
    sys.exit(main())
