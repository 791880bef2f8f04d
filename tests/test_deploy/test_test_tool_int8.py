# Copyright (c) mmbnn contributors. All rights reserved.
"""``tools/test.py --deploy-backend openvino --int8`` and
``--openvino-model``: the binary demo Faster R-CNN (random weights, two
128x128 demo test images, two calibration images) is quantized and
evaluated with the config's metric; its INT8 IR given back with
``--openvino-model`` gives the same metric; an IR of another config is
refused with its differences named; options that do not apply are refused
before anything is built."""
import os.path as osp
import re
import runpy
import subprocess
import sys

import pytest
import torch

from mmbnn.apis.launch import build_runner
from mmbnn.datasets import generate_demo_dataset
from mmbnn.deploy import build_detector, load_config
from mmbnn.deploy import openvino as ovd

from ..conftest import REPO_ROOT

TEST_TOOL = osp.join(REPO_ROOT, 'tools/test.py')
CONFIG = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')
OTHER_CONFIG = osp.join(REPO_ROOT, 'configs/demo/ssd_vgg16_ste_demo.py')
CALIB_IMAGES = 2


def _options(data_root):
    return {
        f'{key}.dataset.data_root': f'{data_root}/VOCdevkit/'
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    }


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('test_int8')
    data = str(root / 'data')
    generate_demo_dataset(data, num_trainval=1, num_test=2)
    torch.manual_seed(0)
    model = build_detector(load_config(CONFIG))
    checkpoint = str(root / 'ste.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    return root, data, checkpoint


@pytest.fixture
def test_main(monkeypatch):
    # tools/test.py sets LOCAL_RANK when it is absent; keep it local
    monkeypatch.setenv('LOCAL_RANK', '0')
    return runpy.run_path(TEST_TOOL)['main']


@pytest.mark.parametrize('flags,error,match', [
    (['--int8'], ValueError,
     '--int8 applies to --deploy-backend openvino only; got '
     '--deploy-backend auto'),
    (['--deploy-backend', 'float64', '--openvino-model', 'x.xml'],
     ValueError, '--openvino-model applies to --deploy-backend openvino '
     'only; got --deploy-backend float64'),
    (['--deploy-backend', 'openvino', '--calib-images', '4'], ValueError,
     '--calib-images applies to --int8 only'),
    (['--deploy-backend', 'openvino', '--int8-scope', 'all'], ValueError,
     '--int8-scope applies to --int8 only'),
    (['--deploy-backend', 'openvino', '--int8', '--openvino-model',
      'x.xml'], ValueError, 'give one of them'),
    (['--deploy-backend', 'openvino', '--int8', '--openvino-shape',
      'per-input'], ValueError, r'--openvino-shape per-input is not allowed '
     r'\(allowed: fixed'),
    (['--deploy-backend', 'openvino', '--openvino-model', 'missing.xml'],
     ValueError, 'must be an existing OpenVINO IR .xml'),
    (['--deploy-backend', 'openvino', '--int8', '--launcher', 'pytorch'],
     RuntimeError, r'--deploy-backend openvino --int8 is tested in one '
     r'process on CPU; got --launcher pytorch \(allowed: --launcher none\)'),
])
def test_cli_refuses_options_that_do_not_apply(test_main, tmp_path, flags,
                                               error, match):
    with pytest.raises(error, match=match):
        test_main([CONFIG, 'none.pth', '--work-dir', str(tmp_path), *flags])


def test_int8_evaluation_and_prebuilt_model(setup):
    root, data, checkpoint = setup
    options = _options(data)
    work_dir = root / 'int8'
    proc = subprocess.run(
        [sys.executable, TEST_TOOL, CONFIG, checkpoint, '--work-dir',
         str(work_dir), '--deploy-backend', 'openvino', '--int8',
         '--calib-images', str(CALIB_IMAGES), '--openvino-threads', '1',
         '--cfg-options', *(f'{k}={v}' for k, v in options.items())],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.findall(r'pascal_voc/mAP: ([0-9.]+)',
                       proc.stdout + proc.stderr)
    assert found, proc.stdout[-2000:]
    xml = str(work_dir / 'openvino' / ovd.INT8_MODEL_NAME)
    info = ovd.read_export_info(xml)
    assert info['int8'] == dict(calib_images=CALIB_IMAGES,
                                scope='after_binary')

    # the same IR as a prebuilt model: the same metric
    runner = build_runner(CONFIG, 'test', checkpoint=checkpoint,
                          work_dir=str(root / 'prebuilt'),
                          cfg_options=options, deploy_backend='openvino',
                          openvino_model=xml, openvino_threads=1)
    assert isinstance(runner.model, ovd.OpenVINODetector)
    assert runner.model.info['int8'] == dict(calib_images=CALIB_IMAGES,
                                             scope='after_binary')
    metrics = runner.test()
    assert metrics['pascal_voc/mAP'] == pytest.approx(float(found[-1]),
                                                      abs=1e-4)


def test_prebuilt_model_of_another_config_is_refused(setup):
    root, data, checkpoint = setup
    onnx_path = str(root / 'ssd.onnx')
    ovd.export_onnx(ovd.load_detector(OTHER_CONFIG), onnx_path, (128, 128))
    xml = str(root / 'ssd.xml')
    ovd.save_openvino(ovd.onnx_to_openvino(onnx_path), xml)
    with pytest.raises(ValueError, match=r'--openvino-model .*ssd\.xml is '
                       r'not an export of this config .*export info '
                       r'layout is'):
        build_runner(CONFIG, 'test', checkpoint=checkpoint,
                     work_dir=str(root / 'mismatch'),
                     cfg_options=_options(data),
                     deploy_backend='openvino', openvino_model=xml)
