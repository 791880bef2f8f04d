# Copyright (c) mmbnn contributors. All rights reserved.
"""Compare training rules: train every config x seed, evaluate each with the
config's metric, and summarize mean +/- std over seeds.

The score of a run is its primary metric (:data:`PRIMARY_METRICS`): mAP@0.5
for detection configs (VOC or COCO metric), top-1 accuracy (percent) for
classification configs (``ClsAccuracy``).

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
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..utils import atomic_file
from .curves import load_scalar_log, plot_curves, record_kind

SPEC = 'spec.json'
RESULT = 'result.json'
TIMING = 'timing.json'
LOCK = '.lock'
#: logged metric key -> the name the summary gives it, first match wins
PRIMARY_METRICS = {
    'pascal_voc/mAP': 'mAP@0.5',
    'coco/bbox_mAP_50': 'mAP@0.5',
    'accuracy/top1': 'top-1 (%)',
}
BBOX_MAP_KEY = 'coco/bbox_mAP'


def _write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (never a half-written file)."""
    with atomic_file(path) as tmp, open(tmp, 'w') as f:
        f.write(text)


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


def primary_metric(metrics: Dict[str, float]) -> Tuple[str, float]:
    """``(name, value)`` of the primary metric in an evaluation result
    (VOCMetric, CocoMetric or ClsAccuracy)."""
    for key, name in PRIMARY_METRICS.items():
        if key in metrics:
            return name, float(metrics[key])
    raise KeyError(f'no primary metric in metrics {sorted(metrics)}; '
                   f'expected one of {tuple(PRIMARY_METRICS)}')


def logged_curves(work_dir: str) -> Dict[str, list]:
    """Per-epoch validation score (the primary metric) and the median
    training step time from the run's MMEngine scalar log (resumed runs
    merged)."""
    records = load_scalar_log(work_dir)
    epochs, values = [], []
    for record in records:
        if record_kind(record) != 'val':
            continue
        key = next((k for k in PRIMARY_METRICS if k in record), None)
        if key is not None:
            epochs.append(record['step'])
            values.append(float(record[key]))
    times = [r['time'] for r in records
             if record_kind(r) == 'train' and 'time' in r]
    return dict(epochs=epochs, score=values,
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
    trainer = build_runner(spec['config'], 'train', work_dir=path,
                           cfg_options=options, resume='auto')
    trainer.train()
    checkpoint = find_latest_checkpoint(path)
    tester = build_runner(spec['config'], 'test', checkpoint=checkpoint,
                          work_dir=path, cfg_options=options)
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
    metric, score = primary_metric(metrics)
    result = dict(
        spec, checkpoint=osp.abspath(checkpoint), metrics=metrics,
        metric=metric, score=score, bbox_map=metrics.get(BBOX_MAP_KEY),
        curve=dict(epochs=curves['epochs'], score=curves['score']),
        step_time=curves['step_time'], **timing)
    _write_json(osp.join(path, RESULT), result)
    return result


def _mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return dict(mean=statistics.fmean(values),
                std=statistics.stdev(values) if len(values) > 1 else 0.0)


def _score(run: Dict) -> float:
    """A run's score (results written before scores were generic hold
    ``map50``)."""
    return run['score'] if 'score' in run else run['map50']


def _curve(curve: Dict) -> List[float]:
    return curve['score'] if 'score' in curve else curve['map50']


def summarize(results: Dict[str, List[Dict]],
              reference: Optional[str] = None) -> Dict[str, Dict]:
    """Per config: mean +/- std of the score (and bbox mAP for COCO-layout
    configs), every seed's value, step and wall time; with ``reference``,
    the paired differences to it.

    Paired differences (``paired``: this config's score minus the
    reference's, seed by seed, over the seeds both have) compare rules on
    the same initial network and the same batches (see
    ``randomness.seed``); their spread is far below that of the two means.

    Args:
        results (dict): Config name -> the ``result.json`` of its runs.
        reference (str, optional): Name of the config to pair with.

    Returns:
        dict: Config name -> summary (JSON-serialisable).
    """
    metrics = {run.get('metric', 'mAP@0.5')
               for runs in results.values() for run in runs}
    if len(metrics) > 1:
        raise ValueError(f'the configs are scored by different metrics '
                         f'({sorted(metrics)}): compare detection and '
                         'classification configs separately')
    summary = {}
    for name, runs in results.items():
        runs = sorted(runs, key=lambda r: r['seed'])
        scores = [_score(r) for r in runs]
        entry = dict(
            config=runs[0]['config'],
            metric=runs[0].get('metric', 'mAP@0.5'),
            seeds=[r['seed'] for r in runs],
            score=dict(_mean_std(scores), per_seed=scores),
            step_time=statistics.fmean(r['step_time'] for r in runs
                                       if r['step_time'] is not None)
            if any(r['step_time'] is not None for r in runs) else None,
            wall_s=statistics.fmean(r['wall_s'] for r in runs),
            curves=[dict(epochs=r['curve']['epochs'],
                         score=_curve(r['curve'])) for r in runs])
        if all(r.get('bbox_map') is not None for r in runs):
            entry['bbox_map'] = dict(
                _mean_std([r['bbox_map'] for r in runs]),
                per_seed=[r['bbox_map'] for r in runs])
        summary[name] = entry
    if reference is not None:
        if reference not in summary:
            raise ValueError(f'reference={reference!r} has no finished run; '
                             f'allowed values: {sorted(summary)}')
        ref = dict(zip(summary[reference]['seeds'],
                       summary[reference]['score']['per_seed']))
        for name, entry in summary.items():
            pairs = [(s, v - ref[s]) for s, v in zip(
                entry['seeds'], entry['score']['per_seed']) if s in ref]
            if name != reference and pairs:
                diffs = [d for _, d in pairs]
                entry['paired'] = dict(
                    _mean_std(diffs), reference=reference,
                    seeds=[s for s, _ in pairs], per_seed=diffs)
    return summary


def format_markdown(summary: Dict[str, Dict], command: str = '') -> str:
    """The summary as a Markdown table (mean +/- sample std over seeds)."""
    has_bbox = any('bbox_map' in e for e in summary.values())
    has_paired = any('paired' in e for e in summary.values())
    metric = next(iter(summary.values()))['metric'] if summary else 'score'
    head = ['config', 'seeds', f'{metric} (mean ± std)', 'per seed']
    if has_paired:
        reference = next(e['paired']['reference'] for e in summary.values()
                         if 'paired' in e)
        head.append(f'paired diff. to `{reference}` (mean ± std)')
    if has_bbox:
        head.append('bbox mAP (mean ± std)')
    head += ['step (s)', 'wall / run (min)']
    digits = 2 if metric.endswith('(%)') else 3
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '|'.join(['---'] * 2 + ['---:'] * (len(head) - 2)) + '|']
    for name, e in summary.items():
        row = [f'`{name}`', ' '.join(map(str, e['seeds'])),
               f"{e['score']['mean']:.{digits}f} ± "
               f"{e['score']['std']:.{digits}f}",
               ' / '.join(f'{v:.{digits}f}' for v in e['score']['per_seed'])]
        if has_paired:
            p = e.get('paired')
            row.append(f"{p['mean']:+.{digits}f} ± {p['std']:.{digits}f} ("
                       + ' / '.join(f'{v:+.{digits}f}'
                                    for v in p['per_seed']) + ')'
                       if p else '-')
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
    """A PNG: score bars with std error bars, and the mean score-per-epoch
    curve of every config (shaded: min-max over seeds); a config has the
    same colour in both."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    names = list(summary)
    metric = summary[names[0]]['metric']
    fig = Figure(figsize=(13, 5))
    FigureCanvasAgg(fig)
    bars, curves = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    means = [summary[n]['score']['mean'] for n in names]
    stds = [summary[n]['score']['std'] for n in names]
    x = np.arange(len(names))
    colors = [f'C{i % 10}' for i in range(len(names))]
    bars.bar(x, means, yerr=stds, capsize=4, color=colors, alpha=0.8)
    for i, name in enumerate(names):
        per_seed = summary[name]['score']['per_seed']
        bars.scatter([i] * len(per_seed), per_seed, color='k', s=8, zorder=3)
    bars.set_xticks(x, names, rotation=30, ha='right', fontsize=7)
    bars.set_ylabel(f'{metric} (mean ± std over seeds)')
    bars.set_title(f'Final {metric}')
    bars.grid(axis='y', alpha=0.3)
    for name, color in zip(names, colors):
        runs = [c for c in summary[name]['curves'] if c['epochs']]
        if not runs:
            continue
        length = min(len(c['epochs']) for c in runs)
        epochs = runs[0]['epochs'][:length]
        values = np.array([c['score'][:length] for c in runs])
        curves.plot(epochs, values.mean(0), marker='o', markersize=3,
                    label=name, color=color)
        curves.fill_between(epochs, values.min(0), values.max(0),
                            alpha=0.15, color=color)
    curves.set_xlabel('epoch')
    curves.set_ylabel(f'validation {metric} (mean over seeds)')
    curves.set_title(f'{metric} per epoch')
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
            jobs: int = 1,
            reference: Optional[str] = None) -> Dict[str, Dict]:
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
        reference (str, optional): Config (path or name) that the summary
            pairs every other config with, seed by seed (see
            :func:`summarize`). Defaults to None.

    Returns:
        dict: The summary (also in ``work_dir/summary.json``).
    """
    if jobs < 1:
        raise ValueError(f'jobs must be >= 1, got jobs={jobs}')
    names = [config_name(c) for c in configs]
    if reference is not None:
        reference = config_name(reference)
        if reference not in names:
            raise ValueError(f'reference={reference!r} is not among the '
                             f'configs; allowed values: {names}')
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
        log(f'    {config_name(config)} seed {result["seed"]}: '
            f'{result["metric"]} {result["score"]:.4f}, {wall / 60:.1f} min;'
            f' {left} left, '
            f'ETA {_format_eta(eta)}')
        _write_summary(work_dir, results, command, reference)

    _run_children(pending, jobs, started, finished)
    return _write_summary(work_dir, results, command, reference)


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
                   command: str,
                   reference: Optional[str] = None) -> Dict[str, Dict]:
    done = {n: r for n, r in results.items() if r}
    if not done:
        return {}
    summary = summarize(
        done, reference if reference in done else None)
    _write_json(osp.join(work_dir, 'summary.json'), summary)
    _write_text(osp.join(work_dir, 'summary.md'),
                format_markdown(summary, command))
    png = osp.join(work_dir, 'summary.png')
    with atomic_file(png) as tmp:
        plot_summary(summary, tmp)
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
