# Copyright (c) mmbnn contributors. All rights reserved.
"""Export a binary detector's network to ONNX and OpenVINO:
``python tools/deploy/export_onnx.py CONFIG CHECKPOINT OUT.onnx
[--openvino OUT.xml [--int8] [--calib-images N] [--int8-scope S]
[--roi-head-openvino]]
[--shape H W] [--float] [--force] [--cfg-options k=v ...]``.

The exported part is the backbone, the neck and the dense heads' raw
outputs (two-stage detectors: the neck features and the RPN outputs;
single-stage: the head's class scores and box deltas); proposals, NMS and
the RoI head stay in PyTorch (:class:`mmbnn.deploy.openvino.
OpenVINODetector`). Every binarized conv is one ``mmbnn::BinaryConv2d``
node, which :func:`mmbnn.deploy.openvino.onnx_to_openvino` turns into an
OpenVINO ``BinaryConvolution`` (XNOR-popcount JIT kernels on x86 CPUs);
``--openvino`` writes that model as OpenVINO IR and reports what the CPU
plugin compiled. CHECKPOINT may be a training checkpoint or an (unfused)
deploy checkpoint of tools/deploy/export.py.

``--int8`` quantizes the OpenVINO model's real-valued convs and FCs to INT8
with NNCF post-training quantization (:mod:`mmbnn.deploy.int8`), calibrated
on ``--calib-images`` images of the config's test (or val) dataset; the
binarized convs stay ``BinaryConvolution``. ``--int8-scope after_binary``
(the default) quantizes only the real layers with no binarized layer
downstream (the layers after the binary trunk), ``all`` every one. On an
``_fp_`` config it gives the INT8 full-precision baseline. With
``--roi-head-openvino`` a two-stage detector's RoI box head is quantized
too, on the RoI features the INT8 network gives for the calibration
images, and written as ``box_head_int8.xml`` beside OUT.xml, where
``tools/test.py --openvino-model OUT.xml --roi-head-openvino`` finds it.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from mmbnn.deploy.int8 import add_int8_options
from mmbnn.deploy.loading import load_config
from mmbnn.deploy.openvino import export_int8
from mmbnn.utils import trust_mmengine_checkpoints


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a binary detector to ONNX / OpenVINO')
    parser.add_argument('config', help='training config file')
    parser.add_argument('checkpoint',
                        help='training checkpoint or unfused deploy '
                        'checkpoint')
    parser.add_argument('out', help='ONNX file to write (.onnx)')
    parser.add_argument('--openvino', metavar='XML',
                        help='also write the OpenVINO IR (.xml + .bin)')
    parser.add_argument(
        '--int8', action='store_true',
        help='with --openvino: quantize the real-valued convs and FCs to '
        'INT8 (NNCF post-training quantization); binarized convs stay '
        'BinaryConvolution')
    add_int8_options(parser)
    parser.add_argument(
        '--roi-head-openvino', action='store_true',
        help='with --int8, two-stage detectors: also write the RoI box '
        'head quantized to INT8 as box_head_int8.xml beside the IR')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'),
        help='static input size (default: the test pipeline\'s resize '
        'scale, padded to the preprocessor\'s size divisor)')
    parser.add_argument(
        '--float', action='store_true',
        help='write binarized convs as float convs on +-1 values in '
        'standard ONNX ops (no BinaryConvolution; for other runtimes)')
    parser.add_argument(
        '--force', action='store_true',
        help='export even if a StoMPP schedule has not finished')
    parser.add_argument('--threads', type=int, default=None,
                        help='OpenVINO threads for the --openvino check')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config (key=value)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.int8 and not args.openvino:
        print('export failed: --int8 needs --openvino OUT.xml',
              file=sys.stderr)
        return 1
    for flag, value in (('--calib-images', args.calib_images),
                        ('--int8-scope', args.int8_scope),
                        ('--roi-head-openvino', args.roi_head_openvino
                         or None)):
        if value is not None and not args.int8:
            print(f'export failed: {flag} applies to --int8 only',
                  file=sys.stderr)
            return 1
    trust_mmengine_checkpoints()  # the training checkpoint is mmengine's
    from mmbnn.deploy import openvino as ovd
    try:
        if args.roi_head_openvino:  # before anything is loaded
            from mmbnn.deploy.loading import load_student_config
            from mmbnn.deploy.openvino_roi_head import check_box_head_config
            check_box_head_config(
                load_student_config(args.config, args.cfg_options).model)
        model = ovd.load_detector(args.config, args.checkpoint,
                                  args.cfg_options, force=args.force)
        cfg = model.cfg if getattr(model, 'cfg', None) is not None else \
            load_config(args.config, args.cfg_options)
        shape = tuple(args.shape) if args.shape else \
            ovd.static_input_shape(cfg)
        if args.int8:
            from mmbnn.deploy import int8
            info = export_int8(
                model, cfg, args.out, args.openvino, shape,
                args.calib_images or int8.DEFAULT_CALIB_IMAGES,
                binary=not args.float,
                scope=args.int8_scope or int8.DEFAULT_INT8_SCOPE)
            if args.roi_head_openvino:
                box_head = _export_box_head(model, cfg, args, info)
        else:
            info = ovd.export_onnx(model, args.out, shape,
                                   binary=not args.float)
    except (RuntimeError, ValueError) as error:
        print(f'export failed: {error}', file=sys.stderr)
        return 1
    print(f'onnx              : {osp.abspath(args.out)} (input 1x3x'
          f'{shape[0]}x{shape[1]}, {len(info["output_names"])} outputs)')
    print(f'binarized convs   : {len(info["binary_convs"])} modules, '
          f'{info["binary_nodes"]} {ovd.ONNX_DOMAIN}::{ovd.BINARY_CONV_OP} '
          'nodes')
    if args.openvino:
        if args.int8:
            network = args.openvino
        else:
            network = ovd.onnx_to_openvino(args.out)
            ovd.save_openvino(network, args.openvino)
        compiled = ovd.compile_model(network, args.threads)
        report = ovd.runtime_conv_report(compiled)
        kinds = sorted(set(report['binary'].values()))
        print(f'openvino IR       : {osp.abspath(args.openvino)}')
        print(f'CPU plugin        : {len(report["binary"])} '
              f'BinaryConvolution ({", ".join(kinds) or "-"}), '
              f'{len(report["float"])} '
              f'{"other" if args.int8 else "float"} convolutions')
        compiled_names = {name.split('#')[0] for name in report['binary']}
        missing = set(info['binary_convs']) - compiled_names
        if missing:
            print(f'export failed: not run as BinaryConvolution: '
                  f'{sorted(missing)}', file=sys.stderr)
            return 1
        if args.int8:
            from mmbnn.deploy.int8 import (format_precision_report,
                                           runtime_precision_report)
            precision = runtime_precision_report(compiled)
            print(f'INT8 ({info["int8"]["calib_images"]} calibration '
                  f'images, scope {info["int8"]["scope"]}): '
                  f'{format_precision_report(precision)}')
        if args.roi_head_openvino:
            head_report = runtime_precision_report(
                ovd.compile_model(box_head, args.threads))
            print(f'INT8 box head     : {osp.abspath(box_head)} '
                  f'({format_precision_report(head_report)})')
    return 0


def _export_box_head(model, cfg, args, info) -> str:
    """The INT8 box head beside the INT8 IR, calibrated on the RoI
    features the INT8 network gives for the network's calibration
    images."""
    from mmbnn.deploy import openvino as ovd
    from mmbnn.deploy.openvino_roi_head import (BOX_HEAD_INT8_IR,
                                                export_int8_box_head)
    path = osp.join(osp.dirname(osp.abspath(args.openvino)),
                    BOX_HEAD_INT8_IR)
    detector = ovd.OpenVINODetector(model, args.openvino, args.threads)
    export_int8_box_head(detector, cfg, info['int8']['calib_images'], path)
    return path


if __name__ == '__main__':
    sys.exit(main())
