# Copyright (c) mmbnn contributors. All rights reserved.
"""tools/analysis_tools/compare_methods.py on a tiny run (CPU, ~3 min): two
configs x two seeds, the summary against the runs' own logs, skipping
finished runs, resuming a killed one."""
import json
import os
import os.path as osp
import signal
import statistics
import subprocess
import sys
import time

import pytest
import torch

from mmbnn.analysis.compare import (compare, format_markdown, run_dir,
                                    summarize)
from mmbnn.analysis.curves import load_scalar_log, record_kind
from mmbnn.datasets import generate_demo_dataset

from ..conftest import REPO_ROOT

CONFIGS = [
    osp.join(REPO_ROOT, 'configs/demo', f'faster_rcnn_r18_{m}_demo.py')
    for m in ('fp', 'ste')
]
TOOL = osp.join(REPO_ROOT, 'tools/analysis_tools/compare_methods.py')


def _options(data_root, epochs):
    voc = osp.join(data_root, 'VOCdevkit') + '/'
    options = {
        f'{k}.dataset.data_root': voc
        for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    }
    options.update({
        'train_dataloader.batch_size': 2, 'val_dataloader.batch_size': 4,
        'test_dataloader.batch_size': 4, 'train_cfg.max_epochs': epochs,
        'train_cfg.val_interval': 1, 'default_hooks.checkpoint.interval': 1
    })
    return options


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('compare_data'))
    generate_demo_dataset(root, num_trainval=6, num_test=4, image_size=96,
                          min_obj=16, max_obj=40)
    return root


@pytest.fixture(scope='module')
def finished(data_root, tmp_path_factory):
    work = str(tmp_path_factory.mktemp('compare'))
    lines = []
    summary = compare(CONFIGS, [0, 1], work, _options(data_root, 2),
                      command='compare test', log=lines.append)
    return dict(work=work, summary=summary, lines=lines)


def _last_logged_map(path):
    vals = [r for r in load_scalar_log(path)
            if record_kind(r) == 'val' and 'pascal_voc/mAP' in r]
    return vals[-1]['pascal_voc/mAP'], [r['step'] for r in vals]


def test_summary_equals_the_runs_logged_metrics(finished):
    work, summary = finished['work'], finished['summary']
    with open(osp.join(work, 'summary.json')) as f:
        assert json.load(f) == json.loads(json.dumps(summary))
    assert list(summary) == ['faster_rcnn_r18_fp_demo',
                             'faster_rcnn_r18_ste_demo']
    for config in CONFIGS:
        entry = summary[osp.splitext(osp.basename(config))[0]]
        assert entry['seeds'] == [0, 1]
        per_seed = []
        for seed in (0, 1):
            path = run_dir(work, config, seed)
            with open(osp.join(path, 'result.json')) as f:
                result = json.load(f)
            assert result['seed'] == seed
            # the test of the final checkpoint = the last validation that
            # MMEngine logged for the same weights
            logged, epochs = _last_logged_map(path)
            assert epochs == [1, 2]
            assert result['score'] == pytest.approx(logged, abs=1e-6)
            assert result['curve']['epochs'] == [1, 2]
            assert result['step_time'] > 0 and result['wall_s'] > 0
            for plot in ('losses', 'map'):
                with open(osp.join(path, 'plots', f'{plot}.png'), 'rb') as f:
                    assert f.read(8) == b'\x89PNG\r\n\x1a\n'

            per_seed.append(result['score'])
        assert entry['score']['per_seed'] == per_seed
        assert entry['score']['mean'] == pytest.approx(
            statistics.fmean(per_seed))
        assert entry['score']['std'] == pytest.approx(
            statistics.stdev(per_seed))
    text = open(osp.join(work, 'summary.md')).read()
    assert 'Command: `compare test`' in text
    for name, entry in summary.items():
        assert (f"| `{name}` | 0 1 | {entry['score']['mean']:.3f} ± "
                f"{entry['score']['std']:.3f} |") in text
    with open(osp.join(work, 'summary.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    # seeds matter: the two seeds of a config trained differently
    for config in CONFIGS:
        ckpts = [json.load(open(osp.join(run_dir(work, config, s),
                                         'result.json')))['checkpoint']
                 for s in (0, 1)]
        a, b = (torch.load(c, map_location='cpu')['state_dict']
                for c in ckpts)
        assert any(not torch.equal(a[k], b[k]) for k in a)


def test_rerun_skips_finished_runs(finished, data_root):
    work = finished['work']
    before = {p: sorted(os.listdir(p)) for p in
              (run_dir(work, c, s) for c in CONFIGS for s in (0, 1))}
    lines = []
    summary = compare(CONFIGS, [0, 1], work, _options(data_root, 2),
                      command='compare test', log=lines.append)
    assert lines == ['4 runs: 4 finished (skipped), 0 to run']
    assert summary == finished['summary']
    for path, files in before.items():
        assert sorted(os.listdir(path)) == files


def test_summary_only_trains_nothing(finished, data_root):
    lines = []
    summary = compare(CONFIGS, [0, 1, 5], finished['work'],
                      _options(data_root, 2), log=lines.append, train=False)
    assert lines[0] == '6 runs: 4 finished (skipped), 2 to run'
    assert sorted(lines[1:]) == ['not run: faster_rcnn_r18_fp_demo seed 5',
                                 'not run: faster_rcnn_r18_ste_demo seed 5']
    assert summary == finished['summary']
    assert not osp.exists(run_dir(finished['work'], CONFIGS[0], 5))


def test_other_options_in_the_same_work_dir_are_refused(finished, data_root):
    with pytest.raises(ValueError, match='another spec'):
        compare(CONFIGS[:1], [0], finished['work'], _options(data_root, 3))


def test_spec_is_compared_as_stored(tmp_path):
    from mmbnn.analysis.compare import _prepare
    spec = dict(config='a.py', seed=0, cfg_options={'x.y': (1, 2)})
    _prepare(str(tmp_path), spec)
    _prepare(str(tmp_path), spec)  # a tuple option matches its JSON list
    with pytest.raises(ValueError, match='another spec'):
        _prepare(str(tmp_path), dict(spec, seed=1))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='distinct'):
        compare(CONFIGS[:1], [0, 0], str(tmp_path))
    with pytest.raises(FileNotFoundError, match='nope.py'):
        compare(['nope.py'], [0], str(tmp_path))
    with pytest.raises(ValueError, match='jobs must be >= 1, got jobs=0'):
        compare(CONFIGS[:1], [0], str(tmp_path), jobs=0)


def test_parallel_jobs_overlap_and_are_all_summarized(data_root, tmp_path):
    """``jobs=2`` starts the second run before the first ends, and every
    run lands in the summary with its own logged result."""
    work = str(tmp_path / 'parallel')
    lines = []
    summary = compare(CONFIGS[1:], [0, 1], work, _options(data_root, 1),
                      log=lines.append, jobs=2)
    starts = [i for i, line in enumerate(lines) if line.startswith('[')]
    ends = [i for i, line in enumerate(lines) if 'mAP@0.5' in line]
    assert len(starts) == 2 and len(ends) == 2
    assert max(starts) < min(ends), lines  # both ran at once
    entry = summary[osp.splitext(osp.basename(CONFIGS[1]))[0]]
    assert entry['seeds'] == [0, 1]
    for seed, value in zip(entry['seeds'], entry['score']['per_seed']):
        logged, _ = _last_logged_map(run_dir(work, CONFIGS[1], seed))
        assert value == pytest.approx(logged)


def _validated(path):
    try:
        return any(record_kind(r) == 'val' for r in load_scalar_log(path))
    except (FileNotFoundError, ValueError):  # not yet written / mid-line
        return False


def test_killed_run_resumes_from_its_checkpoint(data_root, tmp_path):
    work = str(tmp_path / 'killed')
    options = [f'{k}={v}' for k, v in _options(data_root, 3).items()]
    cmd = [sys.executable, TOOL, CONFIGS[1], '--seeds', '0', '--work-dir',
           work, '--cfg-options', *options]
    path = run_dir(work, CONFIGS[1], 0)
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        # kill it in epoch 2: after epoch 1's checkpoint and validation
        # (MMEngine validates after saving, so a kill in between would lose
        # epoch 1's point of the curve, not the run)
        deadline = time.time() + 300
        while not _validated(path):
            assert proc.poll() is None, 'the tool ended before epoch 1'
            assert time.time() < deadline, 'no validation after 300 s'
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not osp.isfile(osp.join(path, 'result.json'))
    done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert '(resuming)' in done.stdout
    log = open(osp.join(path, 'run.log')).read()
    assert 'resumed epoch: 1' in log or 'resumed epoch: 2' in log
    with open(osp.join(path, 'result.json')) as f:
        result = json.load(f)
    assert result['curve']['epochs'] == [1, 2, 3]
    assert result['invocations'] == 1  # the killed one wrote no timing
    logged, _ = _last_logged_map(path)
    assert result['score'] == pytest.approx(logged, abs=1e-6)


def test_summarize_and_markdown_without_training():
    """Old results (``map50``) and new ones (``score``) summarize alike."""
    runs = {
        'a': [dict(config='a.py', seed=s, map50=v, bbox_map=None,
                   step_time=1.0, wall_s=60.0,
                   curve=dict(epochs=[1], map50=[v]))
              for s, v in ((1, 0.5), (0, 0.3))],
        'b': [dict(config='b.py', seed=0, score=0.7, metric='mAP@0.5',
                   bbox_map=0.4, step_time=None, wall_s=120.0,
                   curve=dict(epochs=[1], score=[0.7]))]
    }
    summary = summarize(runs)
    assert summary['a']['seeds'] == [0, 1]
    assert summary['a']['metric'] == 'mAP@0.5'
    assert summary['a']['score'] == dict(mean=pytest.approx(0.4),
                                         std=pytest.approx(0.1414213562),
                                         per_seed=[0.3, 0.5])
    assert 'bbox_map' not in summary['a']
    assert summary['b']['bbox_map']['mean'] == 0.4
    assert summary['b']['score']['std'] == 0.0
    text = format_markdown(summary)
    assert '| `a` | 0 1 | 0.400 ± 0.141 | 0.300 / 0.500 | - | 1.00 | 1.0 |' \
        in text
    assert '| `b` | 0 | 0.700 ± 0.000 | 0.700 | 0.400 ± 0.000 | - | 2.0 |' \
        in text


def test_paired_differences_to_a_reference():
    """Seed by seed: rule minus reference over the seeds both have."""
    def runs(name, values):
        return [dict(config=f'{name}.py', seed=s, score=v,
                     metric='top-1 (%)', bbox_map=None, step_time=1.0,
                     wall_s=1.0, curve=dict(epochs=[1], score=[v]))
                for s, v in values]

    results = dict(ste=runs('ste', [(0, 50.0), (1, 60.0), (2, 55.0)]),
                   rule=runs('rule', [(0, 53.0), (1, 61.0), (3, 99.0)]))
    summary = summarize(results, reference='ste')
    paired = summary['rule']['paired']
    assert paired['seeds'] == [0, 1] and paired['per_seed'] == [3.0, 1.0]
    assert paired['mean'] == 2.0
    assert paired['std'] == pytest.approx(2**0.5)
    assert 'paired' not in summary['ste']
    text = format_markdown(summary)
    assert 'top-1 (%) (mean ± std)' in text
    assert '+2.00 ± 1.41 (+3.00 / +1.00)' in text
    with pytest.raises(ValueError, match="reference='x'"):
        summarize(results, reference='x')


def test_a_run_dir_in_use_is_refused(tmp_path):
    """A second process never trains into a run dir whose lock is held."""
    from mmbnn.analysis.compare import RunDirBusy, run_lock
    path = str(tmp_path)
    with run_lock(path):
        with pytest.raises(RunDirBusy, match='in use by another process'):
            with run_lock(path):
                pass
        child = subprocess.run(
            [sys.executable, '-m', 'mmbnn.analysis.compare', path],
            capture_output=True, text=True, timeout=120)
        assert child.returncode == 75, child.stderr[-2000:]
        assert 'in use by another process' in child.stderr
    with run_lock(path):  # released on exit
        pass


def test_terminated_driver_stops_its_run(data_root, tmp_path):
    """SIGTERM to the driver ends the child training too (no orphan that a
    rerun would race with)."""
    work = str(tmp_path / 'terminated')
    options = [f'{k}={v}' for k, v in _options(data_root, 3).items()]
    cmd = [sys.executable, TOOL, CONFIGS[1], '--seeds', '0', '--work-dir',
           work, '--cfg-options', *options]
    path = run_dir(work, CONFIGS[1], 0)
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    lock = osp.join(path, '.lock')
    deadline = time.time() + 120
    while not (osp.isfile(lock) and open(lock).read().strip()):
        assert proc.poll() is None, 'the tool ended before training'
        assert time.time() < deadline, 'no run started after 120 s'
        time.sleep(0.2)
    child_pid = int(open(lock).read())
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    deadline = time.time() + 60
    while _alive(child_pid):
        assert time.time() < deadline, 'the run outlived its driver'
        time.sleep(0.2)
    from mmbnn.analysis.compare import run_lock
    with run_lock(path):  # free again
        pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as gone
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except FileNotFoundError:  # reaped in between
        return False
