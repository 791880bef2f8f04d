# Copyright (c) mmbnn contributors. All rights reserved.
"""Whole-detector CPU latency: full-precision detector vs the deploy form of
a binary one, same test pipeline input, interleaved rounds (``--order
blocked``: all rounds of one model, then the next), medians, speed-ups and
a per-stage breakdown.

Weights are random (built from the configs, nothing downloaded) unless
checkpoints are given; latency depends on their values only through the
number of RoIs, which the table prints, and through float32 denormals,
which are flushed to zero by default.

Example:
    python tools/analysis_tools/benchmark_detector.py \
        configs/faster_rcnn_r18_ste_binrpn_voc.py \
        --fp-config configs/faster_rcnn_r18_fp_voc.py \
        --proposals 1000 300 --threads 2
    python tools/analysis_tools/benchmark_detector.py \
        configs/ssd300_vgg16_ste_voc.py \
        --fp-config configs/ssd300_vgg16_fp_voc.py
    python tools/analysis_tools/benchmark_detector.py \
        configs/ssd300_vgg16_ste_voc.py \
        --fp-config configs/ssd300_vgg16_fp_voc.py --backend openvino

With ``--backend openvino --int8`` the same run also times both networks
with their real-valued convs quantized to INT8 (NNCF, calibrated on the
timed image), so FP32, INT8, binary and binary+INT8 come side by side, and
prints how many conv / FC layers of each compiled network the CPU plugin
runs as BinaryConvolution, in INT8 and in FP32 (its execution graph).
``--int8-scope`` picks the binary network's quantized convs:
``after_binary`` (default) those with no binarized layer downstream (the
layers after the binary trunk), ``all`` every one (the FP32 network's are
all quantized either way).

With ``--backend openvino --profile`` each OpenVINO network is compiled a
second time with the CPU plugin's performance counters on and run
``--profile-runs`` more times after the timed rounds (which run on the
compilation without counters); the report adds, per network, the time of
its layers per category (BinaryConvolution, INT8 / FP32 conv and FC,
binarizations, 8-bit quantize / dequantize, reorders, the rest), the
slowest layers and the BinaryConvolution time per output resolution.

With ``--backend openvino --roi-head-openvino`` a two-stage detector's RoI
box head (its shared FCs and cls / reg FCs) runs on OpenVINO too, in every
variant and in the variant's precision (FP32 in the FP32 rows, INT8 in the
INT8 rows, calibrated on the RoI features of the timed image); RoIAlign and
the box post-processing stay in PyTorch, and the ``roi_bbox_head`` column is
the OpenVINO box head. With ``--profile`` its layers are profiled as one
more part of each network (on the RoI features of the last timed call).
Single-stage detectors are left as they are (with a note).

With ``--backend openvino --hardware-limit`` the run also measures, after
the timed rounds and with the same ``--threads``, the best MAC/s the CPU
plugin reaches on single large layers (a BinaryConvolution, INT8 and FP32
convs and MatMuls; ``--peak-repeats`` timed calls each), counts each
OpenVINO network's 1-bit, INT8 and FP32 MACs in its execution graph and
prints the machine limit of each network (its MACs at those peaks) next to
the measured network time. Every OpenVINO row also reports the size of its
network saved as IR (float32, ``.xml`` + ``.bin``).

With ``--backend openvino`` both detectors run their networks (backbone,
neck, dense heads' raw outputs) on OpenVINO's CPU plugin, the binary one
with ``BinaryConvolution`` layers (:mod:`mmbnn.deploy.openvino`), and the
post-processing in PyTorch; the ``openvino_network`` column is the
network alone. mmbnn's fused deploy model on its own XNOR kernel (when
built; not with ``--no-fuse``) is timed in the same rounds; OpenVINO's CPU
plugin in the same process slows PyTorch and the kernel (about 2x
interleaved, 2.2-2.5x with ``--order blocked``, measured), so take the
kernel's own time from a ``--backend torch`` run.
"""
import argparse
import copy
import json
import os
from typing import Optional

import torch
from mmengine.config import DictAction
from mmengine.runner import load_checkpoint

from mmbnn.analysis.benchmark_binary_conv import CALL_ORDERS, cpu_name
from mmbnn.analysis.benchmark_detector import (benchmark_detectors,
                                               check_openvino_only,
                                               format_profiles, format_rows,
                                               openvino_variants,
                                               prepare_batch,
                                               profile_variants)
from mmbnn.analysis.hardware_limit import (format_hardware_limit,
                                           limit_fields, measure_peaks,
                                           network_work)
from mmbnn.deploy import convert_to_deploy
from mmbnn.deploy.fusion import replace_real_ops
from mmbnn.deploy.int8 import DEFAULT_INT8_SCOPE, INT8_SCOPES
from mmbnn.deploy.loading import build_detector, load_config
from mmbnn.ops import xnor
from mmbnn.utils import trust_mmengine_checkpoints


# --backend openvino: the row of mmbnn's fused deploy model on its kernel
KERNEL_ROW = 'binary deploy fused (mmbnn kernel)'
# --hardware-limit: timed calls per peak layer without --peak-repeats
DEFAULT_PEAK_REPEATS = 10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='binary detector config')
    parser.add_argument('--fp-config', required=True,
                        help='full-precision detector config to compare to')
    parser.add_argument('--checkpoint', help='trained binary checkpoint')
    parser.add_argument('--fp-checkpoint', help='trained FP checkpoint')
    parser.add_argument('--image-size', type=int, nargs=2, default=(480, 640),
                        metavar=('H', 'W'),
                        help='raw image size fed to the test pipeline '
                        '(default 480 640: 608x800 after the VOC/COCO '
                        'Faster R-CNN resize and padding)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--proposals', type=int, nargs='+', default=None,
                        help='RPN test proposal counts to run (default: '
                        "the config's)")
    parser.add_argument('--with-float-binary', action='store_true',
                        help='also time the binary model before deploy '
                        'conversion (float convs on +-1 values)')
    parser.add_argument('--no-fuse', action='store_true',
                        help='skip the fused deploy model (BN folded, adds '
                        'and activations in the packed convs)')
    parser.add_argument('--with-fast-fp', action='store_true',
                        help='also time the FP32 model with the fused '
                        "form's max-pool and RoIAlign kernels (no "
                        'binarization): what those ops alone give')
    parser.add_argument(
        '--backend', choices=('torch', 'openvino'), default='torch',
        help='run the networks in PyTorch (the deploy model\'s packed '
        'kernel) or on OpenVINO\'s CPU plugin (BinaryConvolution); the '
        'post-processing runs in PyTorch either way')
    parser.add_argument(
        '--int8', action='store_true',
        help='with --backend openvino: also the FP32 and binary networks '
        'with their real-valued convs in INT8 (NNCF post-training '
        'quantization)')
    parser.add_argument(
        '--int8-scope', default=None, choices=INT8_SCOPES,
        help="with --int8: 'after_binary' (default) quantizes the binary "
        'network\'s real convs / FCs with no binarized layer downstream '
        '(stem and shortcut convs that feed the binary trunk stay FP32), '
        "'all' every one")
    parser.add_argument(
        '--profile', action='store_true',
        help='with --backend openvino: also OpenVINO\'s per-layer '
        'performance counters of every OpenVINO network, as time per layer '
        'category (BinaryConvolution, INT8 / FP32 conv/FC, binarization, '
        '8-bit quantize/dequantize, reorder, eltwise/other), the 10 slowest '
        'layers and the BinaryConvolution time per output resolution. '
        'Profiling may slow inference, so it runs on a second compilation '
        'with the counters on, in --profile-runs extra inferences after the '
        'timed rounds; the timed rows are collected without it')
    parser.add_argument(
        '--profile-runs', type=int, default=5,
        help='with --profile: profiled inferences per network (after one '
        'untimed one); layer times are their medians (default 5)')
    parser.add_argument(
        '--roi-head-openvino', action='store_true',
        help='with --backend openvino: two-stage detectors also run their '
        'RoI box head (shared FCs, cls / reg FCs) on OpenVINO, every '
        'OpenVINO variant in its own precision (FP32 rows FP32, INT8 rows '
        'INT8; the mmbnn kernel row keeps its PyTorch box head); '
        'RoIAlign and the box post-processing stay in PyTorch. Ignored '
        '(with a note) for single-stage detectors')
    parser.add_argument(
        '--hardware-limit', action='store_true',
        help='with --backend openvino: after the timed rounds, measure the '
        'best MAC/s of single BinaryConvolution, INT8 and FP32 conv / '
        'MatMul layers (same --threads) and print, per OpenVINO network, '
        'its 1-bit / INT8 / FP32 GMACs, the time they take at those peaks '
        '(the machine limit) and how far the measured network time is '
        'above it; the main network only (with --roi-head-openvino the box '
        'head network is not counted)')
    parser.add_argument(
        '--peak-repeats', type=int, default=None, metavar='N',
        help='with --hardware-limit: timed calls per peak layer; the peak '
        'of a layer is their median (default 10)')
    parser.add_argument(
        '--fast-roi-align', action='store_true',
        help='with --backend openvino: the OpenVINO rows\' RoIAlign (run in '
        'PyTorch) on mmbnn\'s equal-valued kernel, which the mmbnn kernel '
        'row always uses')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument(
        '--order', choices=CALL_ORDERS, default='interleaved',
        help='interleaved: every model once per round (noise hits all '
        'alike); blocked: all rounds of one model, then the next (no model '
        'runs right after another runtime)')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--keep-denormals', action='store_true',
                        help='do not flush float32 denormals to zero (by '
                        'default they are flushed on both sides: random '
                        'weights can produce them, and they slow float '
                        'math by orders of magnitude)')
    parser.add_argument('--out', help='write the rows as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides applied to both configs')
    return parser.parse_args()


def _model(config, checkpoint, options):
    cfg = load_config(config, options)
    model = build_detector(cfg)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                        logger='silent')
    return cfg, model.eval()


def main() -> None:
    args = parse_args()
    trust_mmengine_checkpoints()  # trained checkpoints (--checkpoint)
    if args.fast_roi_align and args.backend != 'openvino':
        raise SystemExit('--fast-roi-align applies to --backend openvino '
                         '(the torch backend\'s fused model has it; '
                         '--with-fast-fp adds an FP32 row with it)')
    if args.int8 and args.backend != 'openvino':
        raise SystemExit('--int8 applies to --backend openvino')
    if args.int8_scope is not None and not args.int8:
        raise SystemExit('--int8-scope applies to --int8')
    for option, given in (('--profile', args.profile),
                          ('--roi-head-openvino', args.roi_head_openvino),
                          ('--hardware-limit', args.hardware_limit)):
        check_openvino_only(option, given, args.backend)
    if args.peak_repeats is not None and not args.hardware_limit:
        raise SystemExit('--peak-repeats applies to --hardware-limit')
    if args.fast_roi_align and not xnor.is_available():
        raise SystemExit('--fast-roi-align needs the built kernel: '
                         f'{xnor.import_error()}')
    if args.backend == 'torch' and not xnor.is_available():
        raise SystemExit('the XNOR kernel is not built: '
                         f'{xnor.import_error()}')
    peak_repeats = 1 if args.peak_repeats is None else args.peak_repeats
    for flag, value, least in (('--batch', args.batch, 1),
                               ('--repeats', args.repeats, 1),
                               ('--warmup', args.warmup, 0),
                               ('--profile-runs', args.profile_runs, 1),
                               ('--peak-repeats', peak_repeats, 1),
                               ('--threads', args.threads or 1, 1)):
        if value < least:
            raise SystemExit(f'{flag}={value} must be >= {least}')
    if args.threads:
        torch.set_num_threads(args.threads)
    flushed = not args.keep_denormals and torch.set_flush_denormal(True)
    variants = {}
    fp_cfg, fp_model = _model(args.fp_config, args.fp_checkpoint,
                              args.cfg_options)
    fp_data = prepare_batch(fp_model, fp_cfg, args.image_size, args.batch)
    if args.backend == 'openvino':
        return _main_openvino(args, fp_model, fp_data, bool(flushed))
    variants['FP32'] = (fp_model, fp_data)
    if args.with_fast_fp:
        variants['FP32 fast pooling/RoIAlign'] = (replace_real_ops(
            copy.deepcopy(fp_model)), fp_data)
    cfg, binary = _model(args.config, args.checkpoint, args.cfg_options)
    data = prepare_batch(binary, cfg, args.image_size, args.batch)
    if args.with_float_binary:
        variants['binary (float)'] = (copy.deepcopy(binary), data)
    # no force: an unfinished StoMPP checkpoint is refused with its layers
    # named, as tools/deploy/export.py refuses it
    fused = None if args.no_fuse else convert_to_deploy(
        copy.deepcopy(binary), backend='kernel', fuse=True)
    variants['binary deploy'] = (convert_to_deploy(binary, backend='kernel'),
                                 data)
    if fused is not None:
        variants['binary deploy fused'] = (fused, data)
    _run_and_report(
        args, variants, data, 'FP32',
        f'cpu: {cpu_name()} ({os.cpu_count()} logical CPUs); torch '
        f'{torch.__version__}; threads {torch.get_num_threads()}; XNOR '
        f'SIMD path {xnor.simd_path()}; denormals flushed: {flushed}',
        dict(threads=torch.get_num_threads(), simd=xnor.simd_path()))


def _run_and_report(args, variants: dict, data: dict, reference: str,
                    setup_line: str, meta: dict,
                    cpu_config: Optional[dict] = None) -> None:
    """Time ``variants`` (``args.order``), print the table against the
    ``reference`` row and write ``--out`` (with ``meta``); ``cpu_config``:
    the OpenVINO CPU properties of the networks, for the peak layers of
    ``--hardware-limit``."""
    shape = tuple(data['inputs'].shape)
    print(setup_line)
    print(f'input {shape} (raw {args.image_size[0]}x{args.image_size[1]} '
          f'through the test pipeline); {args.repeats} {args.order} rounds '
          f'after {args.warmup} warm-up; medians; speed-up = '
          f'{reference.split()[0]} / model')
    rows = benchmark_detectors(variants, args.proposals or (None, ),
                               args.repeats, args.warmup, args.order)
    for row in rows:
        size = getattr(variants[row['name']][0], 'ir_size_mb', None)
        if size is not None:
            row['ir_size_mb'] = size
    print(format_rows(rows, reference))
    _print_precisions(variants, rows)
    if KERNEL_ROW in variants:
        print(f'note: "{KERNEL_ROW}" ran in the OpenVINO process, which '
              'slows PyTorch and the kernel about 2x; time it alone with '
              '--backend torch')
    if args.profile:
        profiles = profile_variants(variants, args.profile_runs)
        meta = dict(meta, profiles=profiles)
        print(f'\nOpenVINO performance counters per network (separate '
              f'profiling-enabled compilations, {args.profile_runs} '
              'inferences after the timed rounds, medians per layer; '
              'network only, first image of the batch' +
              ('; with the RoI box head on the RoI features of the last '
               'timed call' if args.roi_head_openvino else '') + '):\n')
        print(format_profiles(profiles))
    if getattr(args, 'hardware_limit', False):
        meta = dict(meta, peaks=_report_hardware_limit(
            args, variants, rows, cpu_config or {}))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, fp_config=args.fp_config,
                           input_shape=shape, cpu=cpu_name(),
                           order=args.order, rows=rows, **meta), f,
                      indent=2)


def _report_hardware_limit(args, variants: dict, rows: list,
                           cpu_config: dict) -> dict:
    """Measure the peaks, add the hardware-limit fields to the OpenVINO
    rows, print their table; returns the peaks."""
    repeats = (DEFAULT_PEAK_REPEATS if args.peak_repeats is None else
               args.peak_repeats)
    peaks = measure_peaks(args.threads, repeats=repeats, **cpu_config)
    limited = []
    for row in rows:
        model = variants[row['name']][0]
        if getattr(model, 'precision_report', None) is None:
            continue  # not an OpenVINO network
        row['network_ms'] = row['stages_ms'].get('openvino_network')
        row.update(limit_fields(row['network_ms'],
                                network_work(model.network.compiled), peaks))
        limited.append(row)
    print(f'\nMachine limit per OpenVINO network (network only: its '
          f'1-bit / INT8 / FP32 MACs at the best MAC/s of single large '
          f'layers, measured after the timed rounds, median of {repeats} '
          f'calls each, threads {args.threads or "default"}; above limit = '
          'measured network / limit):\n')
    print(format_hardware_limit(limited, peaks))
    return peaks


def _print_precisions(variants: dict, rows: list) -> None:
    """The conv / FC layers each OpenVINO network runs per precision, and
    with an INT8 row the speed-ups against it."""
    from mmbnn.deploy.int8 import format_precision_report
    for name, (model, _) in variants.items():
        report = getattr(model, 'precision_report', None)
        if report is None:
            continue
        size = getattr(model, 'ir_size_mb', None)
        box_head = getattr(model, 'box_head_precision_report', None)
        print(f'{name}: {format_precision_report(report)}' +
              ('' if size is None else f'; IR {size:.2f} MB') +
              ('' if box_head is None else
               f'; RoI box head: {format_precision_report(box_head)}'))
    int8 = {row['proposals']: row for row in rows
            if row['name'] == 'INT8 (OpenVINO)'}
    for row in rows:
        ref = int8.get(row['proposals'])
        if ref is None or row is ref:
            continue
        net, ref_net = (r['stages_ms'].get('openvino_network')
                        for r in (row, ref))
        line = (f'{row["name"]} against INT8 (OpenVINO): whole detector '
                f'{ref["total_ms"] / row["total_ms"]:.2f}x')
        if net and ref_net:
            line += f', network {ref_net / net:.2f}x'
        print(line)


def _main_openvino(args, fp_model, fp_data, flushed: bool) -> None:
    import tempfile

    import openvino as ov
    cfg, binary = _model(args.config, args.checkpoint, args.cfg_options)
    data = prepare_batch(binary, cfg, args.image_size, args.batch)
    roi_head_openvino = args.roi_head_openvino
    if roi_head_openvino and not (getattr(binary, 'with_roi_head', False)
                                  and getattr(fp_model, 'with_roi_head',
                                              False)):
        print('note: --roi-head-openvino ignored: single-stage detectors '
              'have no RoI box head')
        roi_head_openvino = args.roi_head_openvino = False
    if roi_head_openvino:
        from mmbnn.deploy.openvino_roi_head import box_head_error
        for model in (fp_model, binary):
            error = box_head_error(model)
            if error:  # e.g. a cascade: refused before any export
                raise SystemExit(f'--roi-head-openvino: {error}')
    with tempfile.TemporaryDirectory() as work_dir:
        variants = openvino_variants(
            fp_model, fp_data, binary, data, work_dir, args.threads,
            args.with_float_binary, flush_denormals=flushed,
            fast_roi_align=args.fast_roi_align, int8=args.int8,
            profile=args.profile, int8_scope=args.int8_scope,
            roi_head_openvino=roi_head_openvino)
    if xnor.is_available() and not args.no_fuse:
        # mmbnn's own XNOR kernel path, timed in the same rounds
        variants[KERNEL_ROW] = (convert_to_deploy(
            copy.deepcopy(binary), backend='kernel', fuse=True), data)
    _run_and_report(
        args, variants, data, 'FP32 (OpenVINO)',
        f'cpu: {cpu_name()} ({os.cpu_count()} logical CPUs); openvino '
        f'{ov.__version__}; threads {args.threads or "default"}; '
        f'denormals flushed: {flushed}' +
        (f'; int8 scope: {args.int8_scope or DEFAULT_INT8_SCOPE}'
         if args.int8 else '') +
        ('; RoI box head on OpenVINO' if roi_head_openvino else ''),
        dict(backend='openvino', threads=args.threads,
             roi_head_openvino=roi_head_openvino,
             openvino=ov.__version__,
             int8_scope=(args.int8_scope or DEFAULT_INT8_SCOPE)
             if args.int8 else None),
        cpu_config=dict(CPU_DENORMALS_OPTIMIZATION=flushed))


if __name__ == '__main__':
    main()
