# Copyright (c) mmbnn contributors. All rights reserved.
"""NonFiniteCheckHook stops a run whose binary convs receive NaN or Inf
activations, naming the layers and the iteration; finite runs, evaluation,
export and deploy are untouched."""
import copy
import io
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS
from mmengine.runner import Runner

from mmbnn.engine import NonFiniteCheckHook

from ..conftest import REPO_ROOT
from ..toy import ToyImageDataset, toy_runner_cfg


@DATASETS.register_module(force=True)
class NaNFromImageDataset(ToyImageDataset):
    """The toy images, one pixel NaN from item ``nan_from`` on."""

    def __init__(self, nan_from: int = 8, **kwargs) -> None:
        self.nan_from = nan_from
        super().__init__(**kwargs)

    def __getitem__(self, idx):
        item = super().__getitem__(idx)
        if idx >= self.nan_from:
            item['inputs'][0, 5, 5] = float('nan')
        return item


def _runner(tmp_path, name, nan_from=None, **hook):
    cfg = toy_runner_cfg(tmp_path / name,
                         [dict(type='NonFiniteCheckHook', **hook)],
                         dict(type='BinaryConv'), max_iters=6)
    if nan_from is not None:
        cfg['train_dataloader']['dataset'] = dict(
            type='NaNFromImageDataset', nan_from=nan_from)
    return Runner.from_cfg(cfg)


def test_nan_activations_stop_the_run_naming_layers_and_iteration(tmp_path):
    # batches of 4: items 8.. are the third iteration's
    runner = _runner(tmp_path, 'nan', nan_from=8)
    with pytest.raises(FloatingPointError,
                       match=r'reached 2 binary conv layer\(s\) by iteration '
                       r'3: conv1, conv2 .*nonfinite_check=None'):
        runner.train()
    assert runner.iter == 2
    # the hook runs before the checkpoint of that iteration is written
    assert not osp.exists(tmp_path / 'nan' / 'iter_3.pth')
    # the loss itself stayed finite: sign hid the NaNs from the network
    assert torch.isfinite(torch.tensor(
        runner.message_hub.get_scalar('train/loss').current()))


def test_flags_accumulate_between_checks(tmp_path):
    runner = _runner(tmp_path, 'interval', nan_from=8, interval=4)
    with pytest.raises(FloatingPointError,
                       match=r'by iteration 4 \(checked every 4 iterations'):
        runner.train()


def test_finite_run_trains_through_and_turns_the_check_off(tmp_path):
    runner = _runner(tmp_path, 'finite')
    runner.train()
    assert runner.iter == 6
    hook = next(h for h in runner.hooks
                if isinstance(h, NonFiniteCheckHook))
    assert sorted(hook.convs) == ['conv1', 'conv2']
    for conv in hook.convs.values():
        assert not bool(conv.nonfinite)
        assert not conv.check_nonfinite


def test_bad_interval_names_the_key():
    for interval in (0, 2.0, True):
        with pytest.raises(ValueError,
                           match=r'NonFiniteCheckHook: interval must be an '
                           rf'integer >= 1, got interval={interval!r}'):
            NonFiniteCheckHook(interval=interval)


@pytest.mark.parametrize('path', [
    'configs/_base_/default_runtime.py', 'configs/_base_/cls_runtime.py',
    'configs/faster_rcnn_r18_ste_voc.py'
])
def test_binary_runtimes_register_the_check(path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    assert cfg.default_hooks.nonfinite_check == dict(
        type='NonFiniteCheckHook')


def test_export_and_deploy_ignore_the_flag(tmp_path):
    import onnx

    from mmbnn.deploy import convert_to_deploy
    runner = _runner(tmp_path, 'export')
    runner.train()
    model = runner.model
    model.conv1.check_nonfinite = True  # as during training
    model.eval()
    x = torch.randn(1, 3, 12, 12)
    f = io.BytesIO()
    torch.onnx.export(model, (x, ), f, dynamo=False, opset_version=17)
    graph = onnx.load_from_string(f.getvalue()).graph
    names = [t.name for t in graph.initializer] + [i.name for i in graph.input]
    assert not any('nonfinite' in n for n in names)
    assert not bool(model.conv1.nonfinite)

    deploy = convert_to_deploy(copy.deepcopy(model))
    assert not any('nonfinite' in k for k in deploy.state_dict())
    torch.testing.assert_close(deploy(x), model(x), rtol=1e-4, atol=1e-4)
