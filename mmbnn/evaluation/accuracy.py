# Copyright (c) mmbnn contributors. All rights reserved.
"""Top-k accuracy of image classifiers."""
from typing import Dict, List, Optional, Sequence

import torch
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from torch import Tensor


def topk_accuracy(scores: Tensor, labels: Tensor,
                  topk: Sequence[int] = (1, )) -> Dict[int, float]:
    """Percentage of rows whose label is among the ``k`` highest scores.

    Ties are broken by ``torch.topk`` (the lower class index first).

    Args:
        scores (Tensor): ``(N, C)`` class scores.
        labels (Tensor): ``(N, )`` class indices.
        topk (Sequence[int]): The ``k`` values (each ``<= C``).

    Returns:
        dict: ``{k: accuracy in percent}``.
    """
    if scores.dim() != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(f'scores must be (N, C) and labels (N, ), got '
                         f'{tuple(scores.shape)} and {tuple(labels.shape)}')
    if max(topk) > scores.shape[1]:
        raise ValueError(f'topk={tuple(topk)} exceeds the {scores.shape[1]} '
                         'classes')
    ranked = scores.topk(max(topk), dim=1).indices
    hits = ranked == labels.view(-1, 1)
    return {k: float(hits[:, :k].any(1).float().mean() * 100) for k in topk}


@METRICS.register_module()
class ClsAccuracy(BaseMetric):
    """Top-k accuracy, logged as ``accuracy/top<k>`` (percent).

    Args:
        topk (Sequence[int]): The ``k`` values. Defaults to (1, 5); a ``k``
            larger than the number of classes is dropped.
        collect_device (str): Where results are gathered. Defaults to
            ``'cpu'``.
        prefix (str, optional): Defaults to ``'accuracy'``.
    """

    default_prefix = 'accuracy'

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not topk or min(topk) < 1:
            raise ValueError(f'topk must hold positive ints, got {topk}')
        self.topk = tuple(topk)

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            get = sample.get if isinstance(sample, dict) else \
                lambda key, s=sample: getattr(s, key)
            self.results.append(
                (get('pred_score').detach().cpu().float(),
                 int(get('gt_label').view(-1)[0])))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        if not results:
            raise ValueError('ClsAccuracy: no prediction was processed')
        scores = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        topk = [k for k in self.topk if k <= scores.shape[1]]
        return {f'top{k}': v
                for k, v in topk_accuracy(scores, labels, topk).items()}
