# Copyright (c) mmbnn contributors. All rights reserved.
"""Top-k accuracy against values counted by hand."""
import pytest
import torch

from mmbnn.evaluation import ClsAccuracy, topk_accuracy


def test_topk_accuracy_by_hand():
    scores = torch.tensor([[0.1, 0.5, 0.4],    # label 2: rank 2
                           [0.7, 0.2, 0.1],    # label 0: rank 1
                           [0.2, 0.3, 0.5],    # label 0: rank 3
                           [0.3, 0.3, 0.4]])   # label 1: rank 3 (tie -> 0)
    labels = torch.tensor([2, 0, 0, 1])
    acc = topk_accuracy(scores, labels, (1, 2, 3))
    assert acc == {1: 25.0, 2: 50.0, 3: 100.0}
    with pytest.raises(ValueError, match='exceeds the 3 classes'):
        topk_accuracy(scores, labels, (5, ))


def test_metric_over_batches_and_large_k_dropped():
    metric = ClsAccuracy(topk=(1, 5))
    samples = [dict(pred_score=torch.tensor([0.6, 0.4]),
                    gt_label=torch.tensor([0])),
               dict(pred_score=torch.tensor([0.6, 0.4]),
                    gt_label=torch.tensor([1])),
               dict(pred_score=torch.tensor([0.2, 0.8]),
                    gt_label=torch.tensor([1]))]
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])
    result = metric.compute_metrics(metric.results)
    assert result == {'top1': pytest.approx(200 / 3)}
    with pytest.raises(ValueError, match='topk'):
        ClsAccuracy(topk=(0, ))
