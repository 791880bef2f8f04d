# Copyright (c) mmbnn contributors. All rights reserved.
"""Side-by-side training-step benchmark of several configs (FP, STE, SURGE,
...) of detectors or image classifiers: one process, one batch, steps
interleaved round-robin so machine noise hits every config alike; ratios
are what to read."""
import statistics
import time
from contextlib import contextmanager
from typing import Dict, List, Sequence, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope


@contextmanager
def count_saved_tensors(sink: Dict[int, int]):
    """Record ``{storage pointer: bytes}`` of every tensor autograd saves
    for backward inside the block (each storage counted once)."""

    def pack(t: torch.Tensor):
        storage = t.untyped_storage()
        sink[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield


def _state_bytes(model, optimizer) -> int:
    total = 0
    for p in model.parameters():
        total += p.numel() * p.element_size()
        if p.grad is not None:
            total += p.grad.numel() * p.grad.element_size()
    for state in optimizer.state.values():
        for v in state.values():
            if torch.is_tensor(v):
                total += v.numel() * v.element_size()
    return total


class _Case:
    """One config: its model, optimizer and measurements."""

    def __init__(self, name: str, config: str, device: str) -> None:
        from mmdet.registry import MODELS
        cfg = Config.fromfile(config)
        # timing needs no pretrained weights (and must not download them)
        if 'init_cfg' in cfg.model.get('backbone', {}):
            cfg.model.backbone.init_cfg = None
        torch.manual_seed(0)
        self.name = name
        self.model = MODELS.build(cfg.model).to(device)
        self.model.init_weights()
        self.model.train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), 1e-4)
        # StoMPPHook's per-iteration work (soft refresh) is part of a step
        from ..stompp import StoMPPMasking
        self.progressive = [
            m for m in self.model.modules() if isinstance(m, StoMPPMasking)
        ]
        self.times: List[float] = []
        self.memory: List[int] = []
        self.device = device

    def step(self, packed: dict) -> None:
        data = self.model.data_preprocessor(packed, True)
        saved: Dict[int, int] = {}
        cuda = self.device.startswith('cuda')
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for layer in self.progressive:
            layer.refresh()
        with count_saved_tensors(saved):
            losses = self.model(**data, mode='loss')
        loss, _ = self.model.parse_losses(losses)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        if cuda:
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - start)
        if cuda:
            self.memory.append(torch.cuda.max_memory_allocated())
        else:
            self.memory.append(
                sum(saved.values()) + _state_bytes(self.model,
                                                   self.optimizer))


def _batch(model, batch_size: int, h: int, w: int) -> dict:
    """One training batch: random images with class labels for an
    ``ImageClassifier``, with 3 random boxes each for a detector."""
    from ..models import ImageClassifier
    if isinstance(model, ImageClassifier):
        from mmengine.structures import BaseDataElement
        images = torch.randint(0, 256, (batch_size, 3, h, w),
                               dtype=torch.uint8)
        labels = torch.randint(model.num_classes, (batch_size, 1))
        return dict(inputs=list(images),
                    data_samples=[BaseDataElement(gt_label=label)
                                  for label in labels])
    from mmdet.testing import demo_mm_inputs
    return demo_mm_inputs(batch_size, [[3, h, w]] * batch_size,
                          num_items=[3] * batch_size, num_classes=4)


def benchmark_training(configs: Dict[str, str],
                       batch_size: int = 8,
                       image_size: Union[int, Tuple[int, int]] = 128,
                       steps: int = 10,
                       warmup: int = 2,
                       device: str = 'cpu',
                       reference: str = 'STE') -> List[dict]:
    """Time interleaved training steps of every config on one batch.

    Args:
        configs (dict): ``{name: config path}``.
        batch_size (int): Images per step.
        image_size (int | tuple[int, int]): Their size, ``(h, w)`` or one
            side of a square.
        steps (int): Measured steps per config.
        warmup (int): Unmeasured steps per config first.
        device (str): ``'cpu'`` or ``'cuda'``.
        reference (str): Name the ratios are relative to.

    Returns:
        list[dict]: Per config: ``name``, ``median_s``, ``memory_mb``
        (CUDA: peak allocated; CPU: parameters + gradients + optimizer state
        + tensors saved for backward), and ``time_ratio`` /
        ``memory_ratio`` to ``reference``.
    """
    init_default_scope('mmdet')
    h, w = (image_size, image_size) if isinstance(image_size,
                                                  int) else image_size
    cases = [_Case(name, cfg, device) for name, cfg in configs.items()]
    torch.manual_seed(0)
    packed = _batch(cases[0].model, batch_size, h, w)
    for i in range(warmup + steps):
        for case in cases:
            case.step(packed)
    rows = []
    for case in cases:
        rows.append(
            dict(
                name=case.name,
                median_s=statistics.median(case.times[warmup:]),
                memory_mb=max(case.memory[warmup:]) / 2**20))
    ref = next((r for r in rows if r['name'] == reference), rows[0])
    for r in rows:
        r['time_ratio'] = r['median_s'] / ref['median_s']
        r['memory_ratio'] = r['memory_mb'] / ref['memory_mb']
    return rows


def format_rows(rows: Sequence[dict], reference: str) -> str:
    """A plain-text table of :func:`benchmark_training`'s rows."""
    lines = [
        f'{"mode":<14}{"median step (s)":>17}{"x " + reference:>10}'
        f'{"memory (MB)":>14}{"x " + reference:>10}'
    ]
    for r in rows:
        lines.append(f'{r["name"]:<14}{r["median_s"]:>17.3f}'
                     f'{r["time_ratio"]:>10.2f}{r["memory_mb"]:>14.1f}'
                     f'{r["memory_ratio"]:>10.2f}')
    return '\n'.join(lines)
