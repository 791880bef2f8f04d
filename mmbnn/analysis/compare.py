# Copyright (c) mmbnn contributors. All rights reserved.
"""Compare training rules: train every config x seed, evaluate each with the
config's mmdet metric, and summarize mean +/- std over seeds.

Each run lives in ``WORK_DIR/<config name>/seed_<seed>/``:

- ``spec.json``: config, seed and ``--cfg-options`` of the run (a rerun with
  other options is refused instead of mixing results);
- the MMEngine work dir of the training (checkpoints, logs, ``vis_data``),
  ``run.log`` (the run's console output) and ``plots/`` (the curves of
  :func:`~mmbnn.analysis.curves.plot_curves`: losses, mAP, and the per-layer
  SURGE lambda / StoMPP frozen fractions where the config has them);
- ``result.json``: written last and atomically, once the final checkpoint is
  evaluated. A run with a ``result.json`` is skipped by later invocations; a
  run without one resumes from its latest checkpoint.

Runs go one at a time or, with ``jobs > 1``, several at once. Every run
executes in a child process (``python -m mmbnn.analysis.compare
RUN_DIR``), so runs share no global state and a killed run leaves at most an
unfinished work dir behind. The child holds an exclusive lock on
``RUN_DIR/.lock`` while it trains (released by the kernel when it dies), so a
second invocation never trains into a run dir that is in use; the driver
terminates its child when it is interrupted or terminated itself.
``WORK_DIR/summary.{json,md,png}`` are rewritten after every finished run.
"""
import argparse
import contextlib
import fcntl
import json
import os
import os.path as osp
import signal
import statistics
import subprocess
import sys
import time
from argparse import Namespace
from typing import Callable, Dict, List, Optional, Sequence

from .curves import load_scalar_log, plot_curves, record_kind

SPEC = 'spec.json'
RESULT = 'result.json'
TIMING = 'timing.json'
LOCK = '.lock'
# metric key of the summary -> keys mmdet's evaluators log it under
MAP50_KEYS = ('pascal_voc/mAP', 'coco/bbox_mAP_50')
BBOX_MAP_KEY = 'coco/bbox_mAP'


def _write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (never a half-written file)."""
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def _write_json(path: str, data) -> None:
    _write_text(path, json.dumps(data, indent=2))


def _read_json(path: str):
    with open(path) as f:
        return json.load(f)


def config_name(config: str) -> str:
    """The name a config's runs are filed under (its file stem)."""
    return osp.splitext(osp.basename(config))[0]


def run_dir(work_dir: str, config: str, seed: int) -> str:
    """Work dir of one config x seed run."""
    return osp.join(work_dir, config_name(config), f'seed_{seed}')


def map50(metrics: Dict[str, float]) -> float:
    """mAP@0.5 from a VOCMetric or CocoMetric result."""
    for key in MAP50_KEYS:
        if key in metrics:
            return float(metrics[key])
    raise KeyError(f'no mAP@0.5 in metrics {sorted(metrics)}; expected one '
                   f'of {MAP50_KEYS}')


def logged_curves(work_dir: str) -> Dict[str, list]:
    """Per-epoch validation mAP@0.5 and the median training step time from
    the run's MMEngine scalar log (resumed runs merged)."""
    records = load_scalar_log(work_dir)
    epochs, values = [], []
    for record in records:
        if record_kind(record) != 'val':
            continue
        key = next((k for k in MAP50_KEYS if k in record), None)
        if key is not None:
            epochs.append(record['step'])
            values.append(float(record[key]))
    times = [r['time'] for r in records
             if record_kind(r) == 'train' and 'time' in r]
    return dict(epochs=epochs, map50=values,
                step_time=statistics.median(times) if times else None)


class RunDirBusy(RuntimeError):
    """Another process is training in this run dir."""


@contextlib.contextmanager
def run_lock(path: str):
    """Hold the exclusive lock of a run dir (``RUN_DIR/.lock``).

    Raises:
        RunDirBusy: another live process holds it.
    """
    fd = os.open(osp.join(path, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirBusy(
                f'{path} is in use by another process (it holds '
                f'{osp.join(path, LOCK)}); wait for it or stop it') from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def run_one(path: str) -> Dict:
    """Train (resuming from the latest checkpoint, if any) and evaluate the
    run described by ``path/spec.json``; write ``path/result.json``.

    Args:
        path (str): The run's work dir, holding ``spec.json``.

    Returns:
        dict: The result written to ``result.json``.

    Raises:
        RunDirBusy: another process is training in ``path``.
    """
    with run_lock(path):
        return _run_locked(path)


def _run_locked(path: str) -> Dict:
    from mmengine.runner import find_latest_checkpoint

    from ..apis.launch import build_runner
    spec = _read_json(osp.join(path, SPEC))
    start = time.time()
    options = dict(spec['cfg_options'], **{'randomness.seed': spec['seed']})
    common = dict(config=spec['config'], work_dir=path, launcher='none',
                  local_rank=0)
    trainer = build_runner(
        Namespace(amp=False, auto_scale_lr=False, resume='auto',
                  cfg_options=options, **common), 'train')
    trainer.train()
    checkpoint = find_latest_checkpoint(path)
    tester = build_runner(
        Namespace(checkpoint=checkpoint, out=None, show_dir=None,
                  cfg_options=options, **common), 'test')
    metrics = {k: float(v) for k, v in tester.test().items()}
    # wall time summed over the invocations of a resumed run
    timing_path = osp.join(path, TIMING)
    timing = _read_json(timing_path) if osp.isfile(timing_path) else dict(
        wall_s=0.0, invocations=0)
    timing = dict(wall_s=timing['wall_s'] + time.time() - start,
                  invocations=timing['invocations'] + 1)
    _write_json(timing_path, timing)
    curves = logged_curves(path)
    plot_curves(path)  # losses, mAP, StoMPP / SURGE per-layer diagnostics
    result = dict(
        spec, checkpoint=osp.abspath(checkpoint), metrics=metrics,
        map50=map50(metrics), bbox_map=metrics.get(BBOX_MAP_KEY),
        curve=dict(epochs=curves['epochs'], map50=curves['map50']),
        step_time=curves['step_time'], **timing)
    _write_json(osp.join(path, RESULT), result)
    return result


def _mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return dict(mean=statistics.fmean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(results: Dict[str, List[Dict]]) -> Dict[str, Dict]:
    """Per config: mean +/- std of mAP@0.5 (and bbox mAP for COCO-layout
    configs), every seed's value, step and wall time.

    Args:
        results (dict): Config name -> the ``result.json`` of its runs.

    Returns:
        dict: Config name -> summary (JSON-serialisable).
    """
    summary = {}
    for name, runs in results.items():
        runs = sorted(runs, key=lambda r: r['seed'])
        entry = dict(
            config=runs[0]['config'],
            seeds=[r['seed'] for r in runs],
            map50=dict(_mean_std([r['map50'] for r in runs]),
                       per_seed=[r['map50'] for r in runs]),
            step_time=statistics.fmean(r['step_time'] for r in runs
                                       if r['step_time'] is not None)
            if any(r['step_time'] is not None for r in runs) else None,
            wall_s=statistics.fmean(r['wall_s'] for r in runs),
            curves=[r['curve'] for r in runs])
        if all(r.get('bbox_map') is not None for r in runs):
            entry['bbox_map'] = dict(
                _mean_std([r['bbox_map'] for r in runs]),
                per_seed=[r['bbox_map'] for r in runs])
        summary[name] = entry
    return summary


def format_markdown(summary: Dict[str, Dict], command: str = '') -> str:
    """The summary as a Markdown table (mean +/- sample std over seeds)."""
    has_bbox = any('bbox_map' in e for e in summary.values())
    head = ['config', 'seeds', 'mAP@0.5 (mean ± std)', 'per seed']
    if has_bbox:
        head.append('bbox mAP (mean ± std)')
    head += ['step (s)', 'wall / run (min)']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '|'.join(['---'] * 2 + ['---:'] * (len(head) - 2)) + '|']
    for name, e in summary.items():
        row = [f'`{name}`', ' '.join(map(str, e['seeds'])),
               f"{e['map50']['mean']:.3f} ± {e['map50']['std']:.3f}",
               ' / '.join(f'{v:.3f}' for v in e['map50']['per_seed'])]
        if has_bbox:
            b = e.get('bbox_map')
            row.append(f"{b['mean']:.3f} ± {b['std']:.3f}" if b else '-')
        row += ['-' if e['step_time'] is None else f"{e['step_time']:.2f}",
                f"{e['wall_s'] / 60:.1f}"]
        lines.append('| ' + ' | '.join(row) + ' |')
    text = '\n'.join(lines) + '\n'
    if command:
        text = f'Command: `{command}`\n\n' + text
    return text


def plot_summary(summary: Dict[str, Dict], path: str) -> None:
    """A PNG: mAP@0.5 bars with std error bars, and the mean mAP-per-epoch
    curve of every config (shaded: min-max over seeds)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    names = list(summary)
    fig = Figure(figsize=(13, 5))
    FigureCanvasAgg(fig)
    bars, curves = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    means = [summary[n]['map50']['mean'] for n in names]
    stds = [summary[n]['map50']['std'] for n in names]
    x = np.arange(len(names))
    bars.bar(x, means, yerr=stds, capsize=4, color='tab:blue', alpha=0.8)
    for i, name in enumerate(names):
        per_seed = summary[name]['map50']['per_seed']
        bars.scatter([i] * len(per_seed), per_seed, color='k', s=8, zorder=3)
    bars.set_xticks(x, names, rotation=30, ha='right', fontsize=7)
    bars.set_ylabel('mAP@0.5 (mean ± std over seeds)')
    bars.set_title('Final mAP@0.5')
    bars.grid(axis='y', alpha=0.3)
    for name in names:
        runs = [c for c in summary[name]['curves'] if c['epochs']]
        if not runs:
            continue
        length = min(len(c['epochs']) for c in runs)
        epochs = runs[0]['epochs'][:length]
        values = np.array([c['map50'][:length] for c in runs])
        curves.plot(epochs, values.mean(0), marker='o', markersize=3,
                    label=name)
        curves.fill_between(epochs, values.min(0), values.max(0), alpha=0.15)
    curves.set_xlabel('epoch')
    curves.set_ylabel('validation mAP@0.5 (mean over seeds)')
    curves.set_title('mAP per epoch')
    curves.grid(alpha=0.3)
    if curves.lines:
        curves.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _prepare(path: str, spec: Dict, create: bool = True) -> None:
    """Create the run dir with its spec (if ``create``); refuse a different
    existing one."""
    spec = json.loads(json.dumps(spec))  # as stored: tuples become lists
    if create:
        os.makedirs(path, exist_ok=True)
    spec_path = osp.join(path, SPEC)
    if osp.isfile(spec_path):
        old = _read_json(spec_path)
        if old != spec:
            raise ValueError(
                f'{path} holds a run of another spec ({old}); this one is '
                f'{spec}. Use another --work-dir or remove that run dir.')
    elif create:
        _write_json(spec_path, spec)


def _format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'


def compare(configs: Sequence[str],
            seeds: Sequence[int],
            work_dir: str,
            cfg_options: Optional[Dict] = None,
            command: str = '',
            log: Callable[[str], None] = print,
            train: bool = True,
            jobs: int = 1) -> Dict[str, Dict]:
    """Train and evaluate every config x seed, skipping finished runs and
    resuming interrupted ones; write the summary files.

    Args:
        configs (Sequence[str]): Config paths.
        seeds (Sequence[int]): Seeds (``randomness.seed``) of every config.
        work_dir (str): Root of the run dirs and the summary files.
        cfg_options (dict, optional): ``--cfg-options`` for every run.
        command (str): The command line, recorded in ``summary.md``.
        log (Callable): Where progress lines go. Defaults to ``print``.
        train (bool): Run the unfinished runs. False summarizes the finished
            ones only. Defaults to True.
        jobs (int): Runs trained at once, each in its own process (on a
            GPU they share it; on CPU give each ``OMP_NUM_THREADS`` cores).
            Defaults to 1.

    Returns:
        dict: The summary (also in ``work_dir/summary.json``).
    """
    if jobs < 1:
        raise ValueError(f'jobs must be >= 1, got jobs={jobs}')
    names = [config_name(c) for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f'configs must have distinct file names, got {names}')
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds must be distinct, got {list(seeds)}')
    for config in configs:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config {config!r} does not exist')
    plan = [(c, s, run_dir(work_dir, c, s)) for c in configs for s in seeds]
    for config, seed, path in plan:
        _prepare(path, dict(config=config, seed=seed,
                            cfg_options=dict(cfg_options or {})), train)
    results: Dict[str, List[Dict]] = {n: [] for n in names}
    pending = []
    for config, seed, path in plan:
        if osp.isfile(osp.join(path, RESULT)):
            results[config_name(config)].append(
                _read_json(osp.join(path, RESULT)))
        else:
            pending.append((config, seed, path))
    log(f'{len(plan)} runs: {len(plan) - len(pending)} finished (skipped), '
        f'{len(pending)} to run')
    if not train:
        for config, seed, _ in pending:
            log(f'not run: {config_name(config)} seed {seed}')
        pending = []
    walls: List[float] = []
    total = len(pending)

    def started(index: int, config: str, seed: int, path: str) -> None:
        resumed = any(f.endswith('.pth') for f in os.listdir(path))
        log(f'[{index + 1}/{total}] {config_name(config)} seed {seed}'
            f"{' (resuming)' if resumed else ''}: {path}")

    def finished(config: str, path: str, code: int, wall: float) -> None:
        if code == BUSY_EXIT_CODE:
            raise RunDirBusy(f'{path} is in use by another process; see '
                             f"{osp.join(path, 'run.log')}")
        if code != 0:
            raise RuntimeError(f'run {path} failed with exit code {code}; '
                               f"see {osp.join(path, 'run.log')}")
        walls.append(wall)
        result = _read_json(osp.join(path, RESULT))
        results[config_name(config)].append(result)
        left = total - len(walls)
        # ``jobs`` runs share the machine: a run's wall time / jobs per run
        eta = statistics.fmean(walls) * left / min(jobs, max(left, 1))
        log(f'    {config_name(config)} seed {result["seed"]}: mAP@0.5 '
            f'{result["map50"]:.4f}, {wall / 60:.1f} min; {left} left, '
            f'ETA {_format_eta(eta)}')
        _write_summary(work_dir, results, command)

    _run_children(pending, jobs, started, finished)
    return _write_summary(work_dir, results, command)


BUSY_EXIT_CODE = 75  # the child found its run dir locked (EX_TEMPFAIL)


def _run_children(pending: Sequence, jobs: int, started: Callable,
                  finished: Callable) -> None:
    """Run ``(config, seed, path)`` runs in child processes, up to ``jobs``
    at a time, in order. ``started(index, config, seed, path)`` and
    ``finished(config, path, exit_code, wall_s)`` report each run (a raise
    in ``finished`` stops everything). Children are stopped if this process
    is interrupted (Ctrl-C), terminated (SIGTERM, SIGHUP) or fails."""

    def stop(signum, frame):
        raise KeyboardInterrupt(f'signal {signum}')

    previous = {
        sig: signal.signal(sig, stop)
        for sig in (signal.SIGTERM, signal.SIGHUP)
    } if _in_main_thread() else {}
    running: List[tuple] = []  # (config, path, child, log file, start)
    queue = list(enumerate(pending))
    try:
        while queue or running:
            while queue and len(running) < jobs:
                index, (config, seed, path) = queue.pop(0)
                started(index, config, seed, path)
                out = open(osp.join(path, 'run.log'), 'a')
                child = subprocess.Popen(
                    [sys.executable, '-m', 'mmbnn.analysis.compare', path],
                    stdout=out, stderr=subprocess.STDOUT)
                running.append((config, path, child, out, time.time()))
            if jobs == 1:
                running[0][2].wait()
            else:
                time.sleep(0.5)
            for entry in [e for e in running if e[2].poll() is not None]:
                running.remove(entry)
                config, path, child, out, begin = entry
                out.close()
                finished(config, path, child.returncode, time.time() - begin)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for _, _, child, out, _ in running:
            if child.poll() is None:
                child.terminate()
        for _, _, child, out, _ in running:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            out.close()


def _in_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _write_summary(work_dir: str, results: Dict[str, List[Dict]],
                   command: str) -> Dict[str, Dict]:
    done = {n: r for n, r in results.items() if r}
    if not done:
        return {}
    summary = summarize(done)
    _write_json(osp.join(work_dir, 'summary.json'), summary)
    _write_text(osp.join(work_dir, 'summary.md'),
                format_markdown(summary, command))
    png = osp.join(work_dir, 'summary.png')
    plot_summary(summary, f'{png}.tmp.png')
    os.replace(f'{png}.tmp.png', png)
    return summary


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Child-process entry: run the spec in ``RUN_DIR``."""
    parser = argparse.ArgumentParser(
        description='Train and evaluate one run of compare_methods.py')
    parser.add_argument('run_dir', help='run dir holding spec.json')
    try:
        run_one(parser.parse_args(argv).run_dir)
    except RunDirBusy as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(BUSY_EXIT_CODE)


if __name__ == '__main__':
    main()
