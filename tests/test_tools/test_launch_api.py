# Copyright (c) mmbnn contributors. All rights reserved.
"""``build_runner``'s keyword API and the mmdet flags of ``tools/train.py``
and ``tools/test.py`` that feed it (no training: the runners are built, not
run)."""
import os
import os.path as osp
import runpy

import pytest

from mmbnn.apis import build_runner

from ..conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/demo/faster_rcnn_r18_ste_demo.py')


def _tool(name, monkeypatch):
    """``parse_args`` of ``tools/<name>`` and the keywords its ``main``
    hands to ``build_runner`` (recorded, nothing is built)."""
    namespace = runpy.run_path(osp.join(REPO_ROOT, 'tools', name))
    calls = []

    class Recorded:

        def train(self):
            calls.append('train')

        def test(self):
            calls.append('test')

    def record(config, mode, **kwargs):
        calls.append((config, mode, kwargs))
        return Recorded()

    main = namespace['main']
    monkeypatch.setitem(main.__globals__, 'build_runner', record)
    monkeypatch.delenv('LOCAL_RANK', raising=False)

    def run(*argv):
        calls.clear()
        main(list(argv))
        return calls

    return namespace['parse_args'], run


def test_train_tool_flags(monkeypatch):
    parse_args, run = _tool('train.py', monkeypatch)
    calls = run('a.py', '--work-dir', 'w', '--amp', '--auto-scale-lr',
                '--resume', '--cfg-options', 'x.y=2', 'z=[1,2]',
                '--launcher', 'pytorch', '--local-rank', '3')
    assert calls == [('a.py', 'train', dict(
        work_dir='w', cfg_options={'x.y': 2, 'z': [1, 2]},
        launcher='pytorch', resume='auto', amp=True,
        auto_scale_lr=True)), 'train']
    assert os.environ['LOCAL_RANK'] == '3'
    assert parse_args(['a.py', '--resume', 'c.pth']).resume == 'c.pth'
    assert parse_args(['a.py', '--local_rank', '1']).local_rank == 1
    args = parse_args(['a.py'])
    assert (args.resume, args.amp, args.auto_scale_lr, args.launcher) == (
        None, False, False, 'none')


def test_test_tool_flags(monkeypatch, capsys):
    parse_args, run = _tool('test.py', monkeypatch)
    calls = run('a.py', 'c.pth', '--work-dir', 'w', '--out', 'r.pkl',
                '--show', '--show-dir', 'vis', '--wait-time', '0.5',
                '--tta', '--cfg-options', 'x=1', '--deploy-backend',
                'openvino', '--openvino-shape', 'fixed')
    assert calls == [('a.py', 'test', dict(
        checkpoint='c.pth', work_dir='w', cfg_options={'x': 1},
        launcher='none', out='r.pkl', show=True, show_dir='vis',
        wait_time=0.5, tta=True, deploy_backend='openvino',
        openvino_shape='fixed', int8=False, calib_images=None,
        int8_scope=None, openvino_model=None, openvino_threads=None,
        roi_head_openvino=False)), 'test']
    calls = run('a.py', 'c.pth', '--deploy-backend', 'openvino', '--int8',
                '--calib-images', '5', '--int8-scope', 'all',
                '--openvino-threads', '2', '--roi-head-openvino')
    assert {k: calls[0][2][k] for k in (
        'int8', 'calib_images', 'int8_scope', 'openvino_threads',
        'roi_head_openvino')} == dict(
            int8=True, calib_images=5, int8_scope='all', openvino_threads=2,
            roi_head_openvino=True)
    args = parse_args(['a.py', 'c.pth'])
    assert (args.deploy_backend, args.openvino_shape, args.tta,
            args.wait_time) == ('auto', None, False, 2)
    with pytest.raises(SystemExit):
        parse_args(['a.py', 'c.pth', '--deploy-backend', 'gpu'])
    assert "invalid choice: 'gpu'" in capsys.readouterr().err


def test_train_keywords(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = build_runner(CONFIG, 'train', amp=True, resume='auto',
                          cfg_options={'train_cfg.max_epochs': 3})
    cfg = runner.cfg
    assert cfg.work_dir == './work_dirs/faster_rcnn_r18_ste_demo'
    assert cfg.optim_wrapper.type == 'SeparateClipAmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert (cfg.resume, cfg.load_from) == (True, None)
    assert cfg.train_cfg.max_epochs == 3
    runner = build_runner(CONFIG, 'train', work_dir=str(tmp_path / 'w'),
                          resume='x.pth')
    assert runner.cfg.work_dir == str(tmp_path / 'w')
    assert (runner.cfg.resume, runner.cfg.load_from) == (True, 'x.pth')
    assert runner.cfg.optim_wrapper.type == 'SeparateClipOptimWrapper'
    # every runner of the process logs to its own work dir, though the
    # config names its visualizer 'visualizer' (mmdet's runtime)
    first = runner
    runner = build_runner(CONFIG, 'train', work_dir=str(tmp_path / 'v'))
    assert runner.visualizer is not first.visualizer
    assert runner.visualizer.instance_name != first.visualizer.instance_name
    assert runner.visualizer._vis_backends['LocalVisBackend']._save_dir \
        .startswith(str(tmp_path / 'v'))


def test_test_keywords(tmp_path):
    checkpoint = str(tmp_path / 'epoch_1.pth')  # read only by .test()
    runner = build_runner(CONFIG, 'test', checkpoint=checkpoint,
                          work_dir=str(tmp_path), out='r.pkl',
                          show_dir='vis', tta=True)
    cfg = runner.cfg
    assert cfg.load_from == checkpoint
    assert cfg.test_evaluator[-1] == dict(type='DumpDetResults',
                                          out_file_path='r.pkl')
    vis = cfg.default_hooks.visualization
    assert (vis.draw, vis.test_out_dir, vis.get('show', False)) == (
        True, 'vis', False)
    assert type(runner.model).__name__ == 'DetTTAModel'
    assert type(runner.model.module).__name__ == 'FasterRCNN'
    tta = cfg.test_dataloader.dataset.pipeline[-1]
    assert tta.type == 'TestTimeAug'
    assert [t.prob for t in tta.transforms[0]] == [1.0, 0.0]
    assert {'flip', 'flip_direction'} <= set(tta.transforms[1][0].meta_keys)


@pytest.mark.parametrize('mode,kwargs,error,match', [
    ('eval', {}, ValueError, r"mode='eval'.*allowed values: 'train', 'test'"),
    ('train', dict(launcher='local'), ValueError,
     r"launcher='local'.*allowed values: 'none', 'pytorch'"),
    ('test', {}, ValueError, "checkpoint is required when mode='test'"),
    ('test', dict(checkpoint='c.pth', amp=True, resume='auto'), ValueError,
     r"resume, amp: not used when mode='test'"),
    ('train', dict(out='r.pkl', tta=True), ValueError,
     r"out, tta: not used when mode='train'"),
    ('test', dict(checkpoint='c.pth', out='r.json'), ValueError,
     '--out must end with .pkl or .pickle'),
    ('test', dict(checkpoint='c.pth', deploy_backend='gpu'), ValueError,
     r"deploy_backend='gpu'.*allowed values: 'auto', 'kernel'"),
    ('test', dict(checkpoint='c.pth', deploy_backend='float64', tta=True),
     ValueError, "--tta needs the config's model"),
])
def test_bad_keywords_name_the_key(mode, kwargs, error, match, tmp_path):
    with pytest.raises(error, match=match):
        build_runner(CONFIG, mode, work_dir=str(tmp_path), **kwargs)
