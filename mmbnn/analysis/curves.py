# Copyright (c) mmbnn contributors. All rights reserved.
"""Training-curve plots from MMEngine's scalar log.

MMEngine's ``LocalVisBackend`` writes ``WORK_DIR/<timestamp>/vis_data/
scalars.json``, one JSON object per line:

- training records (``loss*``, ``lr``, ..., ``iter``, ``step`` = iteration,
  ``epoch`` for epoch-based loops), written by ``LoggerHook``;
- validation records (e.g. ``pascal_voc/mAP``, ``coco/bbox_mAP``) with
  ``step`` = epoch (epoch-based loops, ``LoggerHook``'s default) or
  iteration;
- per-layer records of mmbnn's hooks, ``step`` = iteration:
  ``stompp/<layer>/{p_weight,p_act,frozen_weight}`` (StoMPPHook) and
  ``surge/<layer>/{lambda,grad_norm_binary,grad_norm_aux}`` (SURGEHook).

A work dir holds one timestamp folder per run. Runs are merged in time
order, and each run replaces what earlier runs logged from its first logged
iteration (epoch, for epoch-indexed validation records) on: a resumed run
continues the curves of the run it resumed, a fresh run in the same work dir
supersedes the older one. ``tools/test.py`` runs write no ``scalars.json``
and are not plotted.
"""
import json
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Tuple

# Plot name -> title; the files are WORK_DIR/plots/<name>.png.
PLOTS = OrderedDict(
    losses='Training losses',
    map='mAP per evaluation',
    accuracy='Top-1 accuracy per evaluation',
    grad_norm='Gradient norm before clipping',
    stompp_frozen='StoMPP: frozen (binary) fraction of the weights per layer',
    surge_lambda='SURGE: lambda per layer',
    surge_grad_binary='SURGE: norm of the binary (STE) input gradient per '
    'layer',
    surge_grad_aux='SURGE: norm of the auxiliary input gradient per layer')
# per-layer plots (one colour per layer, input to output) and their
# ``<prefix><layer>/<quantity>`` scalars
PER_LAYER_PLOTS = OrderedDict(
    stompp_frozen=('stompp/', 'frozen_weight'),
    surge_lambda=('surge/', 'lambda'),
    surge_grad_binary=('surge/', 'grad_norm_binary'),
    surge_grad_aux=('surge/', 'grad_norm_aux'))
LOG_SCALE_PLOTS = ('grad_norm', 'surge_grad_binary', 'surge_grad_aux')
PER_LAYER_PREFIXES = ('stompp/', 'surge/')

Series = Dict[str, Tuple[List[float], List[float]]]


class RenderedPlot(NamedTuple):
    """A written plot: its PNG path and the labels of its series."""
    path: str
    series: List[str]


def find_runs(work_dir: str) -> List[str]:
    """``scalars.json`` files of the runs in ``work_dir``, oldest first
    (MMEngine's ``YYYYMMDD_HHMMSS`` folder names sort by time)."""
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work_dir={work_dir!r} is not a directory')
    paths = [
        osp.join(work_dir, name, 'vis_data', 'scalars.json')
        for name in sorted(os.listdir(work_dir))
    ]
    paths = [p for p in paths if osp.isfile(p)]
    if not paths:
        raise FileNotFoundError(
            f'no <timestamp>/vis_data/scalars.json in work_dir={work_dir!r}'
            " (written by MMEngine's LocalVisBackend during training)")
    return paths


def read_scalars(path: str) -> List[dict]:
    """The records of one ``scalars.json`` (blank lines skipped)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def record_kind(record: dict) -> str:
    """``'train'``, ``'layer'`` (mmbnn per-layer scalars) or ``'val'``."""
    if 'iter' in record:
        return 'train'
    if any(key.startswith(PER_LAYER_PREFIXES) for key in record):
        return 'layer'
    return 'val'


def _epoch_indexed(records: List[dict]) -> bool:
    """Whether validation steps are epochs (epoch-based training logs)."""
    return any('epoch' in r for r in records if record_kind(r) == 'train')


def merge_runs(runs: List[List[dict]]) -> List[dict]:
    """Merge the records of several runs, oldest first.

    Each run drops what the earlier runs logged at or after its own first
    iteration (iteration-indexed records) and its first epoch
    (epoch-indexed validation records), then appends its records.
    """
    merged: List[dict] = []
    for records in runs:
        iter_steps = [r['step'] for r in records
                      if record_kind(r) != 'val' and 'step' in r]
        if not iter_steps:
            merged += records
            continue
        first_iter = min(iter_steps)
        first_val = first_iter
        if _epoch_indexed(records):
            first_val = min(r['epoch'] for r in records
                            if record_kind(r) == 'train' and 'epoch' in r)
        merged = [
            r for r in merged if r.get('step', -1) < (
                first_val if record_kind(r) == 'val' else first_iter)
        ]
        merged += records
    return merged


def load_scalar_log(work_dir: str) -> List[dict]:
    """All runs of ``work_dir`` merged (see :func:`merge_runs`)."""
    return merge_runs([read_scalars(p) for p in find_runs(work_dir)])


def _is_map(key: str) -> bool:
    return '/' in key and 'mAP' in key.rsplit('/', 1)[1]


def _is_top1(key: str) -> bool:
    return key.endswith('/top1')


def _per_layer(key: str, prefix: str, quantity: str) -> Optional[str]:
    """The layer name of ``<prefix><layer>/<quantity>``, else None."""
    if key.startswith(prefix) and key.endswith('/' + quantity):
        return key[len(prefix):-len(quantity) - 1]
    return None


def collect_series(records: List[dict]) -> Dict[str, Series]:
    """Plot name -> series label -> ``(steps, values)``, in log order."""
    plots: Dict[str, Series] = {name: OrderedDict() for name in PLOTS}

    def add(plot: str, label: str, step: float, value: float) -> None:
        steps, values = plots[plot].setdefault(label, ([], []))
        steps.append(step)
        values.append(value)

    for record in records:
        kind, step = record_kind(record), record.get('step')
        if step is None:
            continue
        for key, value in record.items():
            if not isinstance(value, (int, float)):
                continue
            if kind == 'train' and key.startswith('loss'):
                add('losses', key, step, value)
            elif kind == 'train' and key.startswith('grad_norm'):
                add('grad_norm', key, step, value)
            elif kind == 'val' and _is_map(key):
                add('map', key, step, value)
            elif kind == 'val' and _is_top1(key):
                add('accuracy', key, step, value)
            elif kind == 'layer':
                for plot, (prefix, quantity) in PER_LAYER_PLOTS.items():
                    layer = _per_layer(key, prefix, quantity)
                    if layer is not None:
                        add(plot, layer, step, value)
                        break
    return plots


def _draw(path: str,
          title: str,
          series: Series,
          xlabel: str,
          ylabel: str,
          per_layer: bool,
          fraction: bool,
          log_scale: bool = False) -> None:
    # Figure + Agg canvas directly: no pyplot, no global backend switch
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(11 if per_layer else 8, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = colormaps['viridis']
    for index, (label, (steps, values)) in enumerate(series.items()):
        style = dict(marker='o', markersize=3) if len(steps) < 30 else {}
        if per_layer:
            # input-to-output layer order as a colour ramp
            style['color'] = cmap(index / max(len(series) - 1, 1))
        ax.plot(steps, values, label=label, linewidth=1.2, **style)
        if not per_layer and fraction and len(steps) <= 12:
            for step, value in zip(steps, values):
                ax.annotate(f'{value:.3f}', (step, value), fontsize=7,
                            textcoords='offset points', xytext=(0, 5),
                            ha='center')
    if fraction:  # mAP and frozen fractions live in [0, 1]
        ax.set_ylim(-0.02, 1.02)
    if log_scale:
        ax.set_yscale('log')
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if per_layer:
        ax.legend(fontsize=6, ncol=1 if len(series) <= 16 else 2,
                  loc='upper left', bbox_to_anchor=(1.01, 1.0),
                  title='layer (log order)', title_fontsize=7)
    else:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_curves(work_dir: str,
                out_dir: Optional[str] = None) -> Dict[str, RenderedPlot]:
    """Write the training-curve PNGs of ``work_dir``.

    Args:
        work_dir (str): An MMEngine work dir.
        out_dir (str, optional): Where the PNGs go. Defaults to
            ``work_dir/plots``.

    Returns:
        dict: ``{plot name: RenderedPlot}`` for the plots that had data,
        in :data:`PLOTS` order; the others are skipped.
    """
    records = load_scalar_log(work_dir)
    plots = collect_series(records)
    out_dir = out_dir or osp.join(work_dir, 'plots')
    eval_axis = 'epoch' if _epoch_indexed(records) else 'iteration'
    axes = dict(
        losses=('iteration', 'loss'),
        map=(eval_axis, 'mAP'),
        accuracy=(eval_axis, 'top-1 (%)'),
        grad_norm=('iteration', 'L2 norm'),
        stompp_frozen=('iteration', 'frozen fraction of the weights'),
        surge_lambda=('iteration', 'lambda'),
        surge_grad_binary=('iteration', '||g_ste||'),
        surge_grad_aux=('iteration', '||g_aux||'))
    rendered: Dict[str, RenderedPlot] = OrderedDict()
    for name, series in plots.items():
        if not series:
            continue
        os.makedirs(out_dir, exist_ok=True)
        path = osp.join(out_dir, f'{name}.png')
        _draw(path, PLOTS[name], series, *axes[name],
              per_layer=name in PER_LAYER_PLOTS,
              fraction=name in ('map', 'stompp_frozen'),
              log_scale=name in LOG_SCALE_PLOTS)
        rendered[name] = RenderedPlot(path, list(series))
    return rendered
