# Copyright (c) mmbnn contributors. All rights reserved.
"""Each distillation loss against its formula, computed here cell by cell on
small tensors: foreground masks, fg/bg weights, the normalized variant,
adapters, CWD's temperature, logit KD (softmax and sigmoid)."""
import math

import pytest
import torch

from mmbnn.distill import (ChannelWiseDivergenceLoss, FeatureImitationLoss,
                           LogitKDLoss, gt_foreground_masks)


def test_foreground_masks_scale_boxes_to_each_level():
    boxes = [torch.tensor([[2., 2., 6., 9.]]), torch.zeros(0, 4)]
    # 16x16 input, 4x4 level: x 0.5..1.5 -> cells 0,1; y 0.5..2.25 -> 0..2
    masks = gt_foreground_masks(boxes, (4, 4), (16, 16))
    expected = torch.zeros(2, 4, 4)
    expected[0, 0:3, 0:2] = 1
    assert torch.equal(masks, expected)
    # a box smaller than a cell still marks the cell it lies in
    tiny = gt_foreground_masks([torch.tensor([[9., 9., 10., 10.]])], (2, 2),
                               (16, 16))
    assert torch.equal(tiny, torch.tensor([[[0., 0.], [0., 1.]]]))
    # non-square input: x and y scale separately
    wide = gt_foreground_masks([torch.tensor([[0., 0., 8., 4.]])], (2, 4),
                               (8, 16))
    assert torch.equal(wide, torch.tensor([[[1., 1., 0., 0.],
                                            [0., 0., 0., 0.]]]))


def _imitation_by_cells(s, t, mask, fg_w, bg_w):
    """DeFeat-style decoupled MSE, written cell by cell."""
    n, c, h, w = s.shape
    fg_sum = bg_sum = fg_n = bg_n = 0.0
    for i in range(n):
        for y in range(h):
            for x in range(w):
                d = sum(float(s[i, k, y, x] - t[i, k, y, x])**2
                        for k in range(c)) / c
                if mask[i, y, x]:
                    fg_sum, fg_n = fg_sum + d, fg_n + 1
                else:
                    bg_sum, bg_n = bg_sum + d, bg_n + 1
    return fg_w * fg_sum / max(fg_n, 1) + bg_w * bg_sum / max(bg_n, 1)


def _levels(gen, channels=3):
    shapes = [(2, channels, 4, 4), (2, channels, 2, 2)]
    return ([torch.randn(*s, generator=gen) for s in shapes],
            [torch.randn(*s, generator=gen) for s in shapes])


def test_feature_imitation_mse_matches_decoupled_formula():
    gen = torch.Generator().manual_seed(0)
    student, teacher = _levels(gen)
    boxes = [torch.tensor([[0., 0., 8., 8.]]), torch.tensor([[4., 8., 16.,
                                                              16.]])]
    loss = FeatureImitationLoss(3, 3, num_levels=2, adapter=False,
                                fg_weight=2.0, bg_weight=0.5,
                                loss_weight=1.5)
    got = loss(student, teacher, boxes, (16, 16))
    expected = [
        _imitation_by_cells(s, t, gt_foreground_masks(boxes, s.shape[2:],
                                                      (16, 16)), 2.0, 0.5)
        for s, t in zip(student, teacher)
    ]
    assert float(got) == pytest.approx(1.5 * sum(expected) / 2, rel=1e-5)
    # the fg term alone: a zero bg weight ignores every background cell
    fg_only = FeatureImitationLoss(3, 3, num_levels=2, adapter=False,
                                   fg_weight=1.0, bg_weight=0.0)
    changed = [t.clone() for t in teacher]
    mask = gt_foreground_masks(boxes, (4, 4), (16, 16)).bool()
    changed[0].permute(0, 2, 3, 1)[~mask] += 5.0  # background cells only
    changed[1].permute(0, 2, 3, 1)[
        ~gt_foreground_masks(boxes, (2, 2), (16, 16)).bool()] += 5.0
    assert float(fg_only(student, changed, boxes, (16, 16))) == \
        pytest.approx(float(fg_only(student, teacher, boxes, (16, 16))))


def test_feature_imitation_normalized_standardizes_each_channel():
    gen = torch.Generator().manual_seed(1)
    student, teacher = _levels(gen)
    boxes = [torch.tensor([[0., 0., 8., 8.]])] * 2
    loss = FeatureImitationLoss(3, 3, num_levels=2, adapter=False,
                                mode='normalized', eps=0.0)

    def standardize(x):
        out = torch.empty_like(x)
        for i in range(x.shape[0]):
            for k in range(x.shape[1]):
                v = x[i, k]
                mean = float(v.mean())
                std = math.sqrt(float(((v - mean)**2).mean()))
                out[i, k] = (v - mean) / std
        return out

    expected = sum(
        _imitation_by_cells(standardize(s), standardize(t),
                            gt_foreground_masks(boxes, s.shape[2:],
                                                (16, 16)), 1.0, 0.5)
        for s, t in zip(student, teacher)) / 2
    got = loss(student, teacher, boxes, (16, 16))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # invariant to a per-channel scale and shift of the student
    scaled = [3 * s + 1 for s in student]
    assert float(loss(scaled, teacher, boxes, (16, 16))) == \
        pytest.approx(float(got), rel=1e-4)


def test_adapter_maps_student_to_teacher_channels():
    gen = torch.Generator().manual_seed(2)
    student = [torch.randn(1, 2, 3, 3, generator=gen)]
    teacher = [torch.randn(1, 4, 3, 3, generator=gen)]
    loss = FeatureImitationLoss(2, 4, num_levels=1, fg_weight=1.0,
                                bg_weight=1.0)
    weight = torch.randn(4, 2, 1, 1, generator=gen)
    bias = torch.randn(4, generator=gen)
    with torch.no_grad():
        loss.adapters[0].weight.copy_(weight)
        loss.adapters[0].bias.copy_(bias)
    adapted = torch.einsum('ts,nshw->nthw', weight[:, :, 0, 0], student[0])
    adapted = adapted + bias[None, :, None, None]
    boxes = [torch.zeros(0, 4)]  # all background
    expected = float(((adapted - teacher[0])**2).mean())
    with torch.no_grad():
        got = float(loss(student, teacher, boxes, (3, 3)))
    assert got == pytest.approx(expected, rel=1e-5)


def test_cwd_matches_channel_softmax_kl_times_tau_squared():
    gen = torch.Generator().manual_seed(3)
    student, teacher = _levels(gen, channels=2)
    tau = 2.0
    loss = ChannelWiseDivergenceLoss(2, 2, num_levels=2, adapter=False,
                                     tau=tau, loss_weight=0.7)

    def level(s, t):
        n, c = s.shape[:2]
        total = 0.0
        for i in range(n):
            for k in range(c):
                ps = [math.exp(float(v) / tau) for v in s[i, k].flatten()]
                pt = [math.exp(float(v) / tau) for v in t[i, k].flatten()]
                zs, zt = sum(ps), sum(pt)
                total += sum(b / zt * math.log((b / zt) / (a / zs))
                             for a, b in zip(ps, pt))
        return tau**2 * total / (n * c)

    expected = 0.7 * sum(level(s, t) for s, t in zip(student, teacher)) / 2
    assert float(loss(student, teacher)) == pytest.approx(expected, rel=1e-5)
    assert float(loss(teacher, teacher)) == pytest.approx(0.0, abs=1e-6)


def test_logit_kd_softmax_and_sigmoid_formulas():
    student = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]])
    teacher = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    tau = 2.0

    def softmax(row):
        e = [math.exp(v / tau) for v in row]
        return [v / sum(e) for v in e]

    kl = 0.0
    for s, t in zip(student.tolist(), teacher.tolist()):
        p, q = softmax(s), softmax(t)
        kl += sum(b * math.log(b / a) for a, b in zip(p, q))
    loss = LogitKDLoss(tau=tau, loss_weight=0.5)
    assert float(loss(student, teacher)) == \
        pytest.approx(0.5 * tau**2 * kl / 2, rel=1e-5)

    def sig(v):
        return 1 / (1 + math.exp(-v / tau))

    bkl = sum(
        sig(b) * math.log(sig(b) / sig(a)) +
        (1 - sig(b)) * math.log((1 - sig(b)) / (1 - sig(a)))
        for s, t in zip(student.tolist(), teacher.tolist())
        for a, b in zip(s, t))
    assert float(loss(student, teacher, use_sigmoid=True)) == \
        pytest.approx(0.5 * tau**2 * bkl / 2, rel=1e-5)
    forced = LogitKDLoss(tau=tau, activation='softmax', loss_weight=0.5)
    assert float(forced(student, teacher, use_sigmoid=True)) == \
        pytest.approx(float(loss(student, teacher)))
    # the warm-up factor scales the loss; no rows give a zero loss
    loss.weight_factor = 0.25
    assert float(loss(student, teacher)) == \
        pytest.approx(0.5 * 0.25 * tau**2 * kl / 2, rel=1e-5)
    assert float(loss(student[:0], teacher[:0])) == 0.0


def test_level_and_channel_mismatches_name_the_key():
    loss = FeatureImitationLoss([2, 2], [4, 4])
    loss.name = 'feat'
    s = [torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 2, 2)]
    t = [torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 2, 2)]
    boxes, size = [torch.zeros(0, 4)], (16, 16)
    assert float(loss(s, t, boxes, size).detach()) >= 0
    with pytest.raises(ValueError, match='teacher gives 1 feature levels'):
        loss(s, t[:1], boxes, size)
    with pytest.raises(ValueError,
                       match=r'model\.distill_cfg\.feat\.num_levels'):
        loss(s[:1], t[:1], boxes, size)
    with pytest.raises(ValueError,
                       match=r'model\.distill_cfg\.feat\.student_channels'):
        loss([torch.zeros(1, 3, 4, 4), s[1]], t, boxes, size)
    with pytest.raises(ValueError,
                       match=r'model\.distill_cfg\.feat\.teacher_channels'):
        loss(s, [t[0], torch.zeros(1, 5, 2, 2)], boxes, size)
    with pytest.raises(ValueError, match='differ in size'):
        loss(s, [t[0], torch.zeros(1, 4, 3, 3)], boxes, size)
    with pytest.raises(ValueError, match='adapter=False needs equal'):
        FeatureImitationLoss(2, 4, num_levels=1, adapter=False)
    with pytest.raises(ValueError, match="mode='l1'.*'normalized'"):
        FeatureImitationLoss(2, 2, num_levels=1, mode='l1')
    with pytest.raises(ValueError, match='student_channels has 2 entries'):
        FeatureImitationLoss([2, 2], 2, num_levels=3)
    with pytest.raises(ValueError, match='tau must be > 0'):
        ChannelWiseDivergenceLoss(2, 2, num_levels=1, tau=0)
