# Copyright (c) mmbnn contributors. All rights reserved.
"""The distillation detectors on tiny models: the teacher stays frozen
(parameters and BN buffers bitwise unchanged by training), gradients reach
the student and the adapters only, the logit loss scores the student's own
RoIs, checkpoints hold no teacher, and bad set-ups fail naming the key."""
import copy
import math

import pytest
import torch
from mmengine.runner import load_checkpoint

from mmbnn.distill import (DistillTwoStageDetector, load_student_checkpoint,
                           unwrap_distill)

from .tiny import batch, build, demo_model, distill_model, save_teacher

KD_KEYS = {'loss_kd_feat', 'loss_kd_cwd', 'loss_kd_logit'}


@pytest.fixture
def teacher_ckpt(tmp_path):
    return save_teacher(tmp_path / 'teacher.pth')


def _train_steps(model, steps=2):
    optim = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    data = batch(model)
    for _ in range(steps):
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        optim.zero_grad()
        loss.backward()
        optim.step()
    return losses


def test_teacher_is_frozen_outside_parameters_and_state_dict(
        mmdet_scope, teacher_ckpt):
    model = build(distill_model(teacher_ckpt))
    model.init_weights()
    teacher = model.teacher
    reference = build(demo_model('faster_rcnn_r18_fp_demo.py'))
    load_checkpoint(reference, teacher_ckpt, logger='silent')
    loaded = teacher.state_dict()
    assert all(torch.equal(loaded[k], v)
               for k, v in reference.state_dict().items())
    assert any(k.endswith('running_mean') for k in loaded)  # BN inside

    model.train()
    assert model.training and not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    ids = {id(p) for p in model.parameters()}
    assert not ids & {id(p) for p in teacher.parameters()}
    assert not any('teacher' in key for key in model.state_dict())

    before = copy.deepcopy(teacher.state_dict())
    student_before = copy.deepcopy(model.backbone.state_dict())
    losses = _train_steps(model)
    assert KD_KEYS <= set(losses)
    assert all(torch.isfinite(losses[k]) for k in KD_KEYS)
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not all(
        torch.equal(student_before[k], v)
        for k, v in model.backbone.state_dict().items())
    # moving the model moves the teacher with it
    model.double()
    assert next(teacher.parameters()).dtype == torch.float64
    model.float()


def test_gradients_reach_student_and_adapters_only(mmdet_scope):
    model = build(distill_model())
    model.train()
    losses = model(**batch(model), mode='loss')
    kd = sum(losses[k] for k in KD_KEYS)
    kd.backward()
    for name, param in model.distill_losses.named_parameters():
        assert param.grad is not None, name
        # CWD's softmax over the one cell of the 1x1 top level (64 px
        # input, stride 64) is constant: no gradient there, by the formula
        if name.startswith('cwd.adapters.4.'):
            assert param.grad.abs().sum() == 0
        else:
            assert param.grad.abs().sum() > 0, name
    for module in (model.backbone, model.neck, model.roi_head.bbox_head):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in module.parameters())
    assert all(p.grad is None for p in model.teacher.parameters())


def test_logit_loss_scores_the_students_sampled_rois(mmdet_scope):
    model = build(distill_model())
    model.train()
    seen = {}

    def on_extractor(module, args, output):
        seen.setdefault('student', args[1].clone())

    model.roi_head.bbox_roi_extractor.register_forward_hook(on_extractor)
    original = model.teacher.roi_head._bbox_forward

    def teacher_forward(x, rois):
        seen['teacher'] = rois.clone()
        result = original(x, rois)
        seen['teacher_scores'] = result['cls_score']
        return result

    model.teacher.roi_head._bbox_forward = teacher_forward
    losses = model(**batch(model), mode='loss')
    assert torch.equal(seen['student'], seen['teacher'])
    assert seen['teacher'].shape[0] > 0
    assert not seen['teacher_scores'].requires_grad
    assert float(losses['loss_kd_logit'].detach()) > 0


def _assert_same_losses(losses, expected):
    for key, value in expected.items():
        values = value if isinstance(value, list) else [value]
        got = losses[key] if isinstance(value, list) else [losses[key]]
        assert len(got) == len(values), key
        assert all(torch.equal(a, b) for a, b in zip(got, values)), key


def _plain_student(model, student_cfg):
    """mmdet's own detector of ``student_cfg`` with ``model``'s weights."""
    student = build(student_cfg)
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith('distill_losses.')}
    student.load_state_dict(state, strict=True)
    return student.train()


def test_student_losses_are_mmdets_two_stage_loss(mmdet_scope):
    """The detection losses of a distillation step equal mmdet's
    ``TwoStageDetector.loss`` on the same weights and batch, random RPN and
    RoI sampling included (the same draws)."""
    cfg = distill_model()
    for stage, num in (('rpn', 64), ('rcnn', 32)):
        cfg.train_cfg[stage].sampler = dict(
            type='RandomSampler', num=num, pos_fraction=0.5, neg_pos_ub=-1,
            add_gt_as_proposals=stage == 'rcnn')
    model = build(cfg)
    model.init_weights()  # the teacher is built (and draws) here
    model.train()
    student_cfg = copy.deepcopy(cfg)
    student_cfg.type = 'FasterRCNN'
    for key in ('teacher_cfg', 'teacher_ckpt', 'allow_untrained_teacher',
                'distill_cfg'):
        student_cfg.pop(key)
    student = _plain_student(model, student_cfg)
    data = batch(model)
    args = data['inputs'], data['data_samples']
    torch.manual_seed(7)
    losses = model.loss(*args)
    torch.manual_seed(7)
    expected = student.loss(*args)
    assert set(losses) == set(expected) | KD_KEYS
    assert list(losses)[:len(expected)] == list(expected)
    _assert_same_losses(losses, expected)


def test_checkpoints_hold_the_student_and_adapters_only(
        mmdet_scope, tmp_path):
    model = build(distill_model())
    _train_steps(model, steps=1)
    state = model.state_dict()
    plain = build(demo_model('faster_rcnn_r18_ste_demo.py'))
    student_keys = set(plain.state_dict())
    extra = set(state) - student_keys
    assert extra and all(k.startswith('distill_losses.') for k in extra)
    assert student_keys <= set(state)

    path = str(tmp_path / 'distill.pth')
    torch.save(dict(state_dict=state, meta={}), path)
    model.eval()
    data = batch(model, training=False)
    with torch.no_grad():
        expected = model(**data, mode='predict')
        # the student alone, as unwrap_distill gives it (deploy/complexity)
        alone = unwrap_distill(model)
        assert type(alone).__name__ == 'FasterRCNN'
        assert 'distill_losses' not in dict(alone.named_children())
        assert not hasattr(alone, '_teacher_module')
        unwrapped = alone(**data, mode='predict')
        # a distillation checkpoint in the plain student: strictly but for
        # the adapters, and as tools/test.py loads it (non-strict)
        load_student_checkpoint(plain, path)
        plain.eval()
        loaded = plain(**data, mode='predict')
        lenient = build(demo_model('faster_rcnn_r18_ste_demo.py'))
        load_checkpoint(lenient, path, logger='silent')
        lenient.eval()
        via_test_tool = lenient(**data, mode='predict')
    for a, b, c, d in zip(expected, unwrapped, loaded, via_test_tool):
        for key in ('bboxes', 'scores', 'labels'):
            ref = a.pred_instances[key]
            assert torch.equal(ref, b.pred_instances[key])
            assert torch.equal(ref, c.pred_instances[key])
            assert torch.equal(ref, d.pred_instances[key])
    # and a plain student checkpoint loads into the wrapper (adapters new)
    wrapper = build(distill_model())
    missing = set(wrapper.state_dict()) - set(plain.state_dict())
    wrapper.load_state_dict(plain.state_dict(), strict=False)
    assert missing and all(k.startswith('distill_losses.') for k in missing)
    assert torch.equal(wrapper.backbone.conv1.weight,
                       plain.backbone.conv1.weight)


def test_missing_teacher_checkpoint_is_a_clear_error(mmdet_scope, tmp_path):
    cfg = distill_model()
    cfg.allow_untrained_teacher = False
    with pytest.raises(ValueError, match=r'model\.teacher_ckpt is None'):
        build(cfg)
    cfg.teacher_ckpt = str(tmp_path / 'absent.pth')
    model = build(cfg)  # the checkpoint is read by init_weights
    with pytest.raises(FileNotFoundError,
                       match=r'model\.teacher_ckpt=.*absent\.pth'):
        model.init_weights()
    cfg.teacher_cfg = 'configs/no_such_teacher.py'
    with pytest.raises(FileNotFoundError, match=r'model\.teacher_cfg='):
        build(cfg)


def test_teacher_student_mismatches_name_the_key(mmdet_scope, tmp_path):
    wide = demo_model('faster_rcnn_r18_fp_demo.py')
    wide.neck.out_channels = 24
    model = build(distill_model(teacher=wide))
    model.train()
    with pytest.raises(ValueError,
                       match=r'model\.distill_cfg\.feat\.teacher_channels'):
        model(**batch(model), mode='loss')

    fewer = demo_model('faster_rcnn_r18_fp_demo.py')
    fewer.neck.num_outs = 4
    fewer.rpn_head.anchor_generator.strides = [4, 8, 16, 32]
    model = build(distill_model(teacher=fewer))
    model.train()
    with pytest.raises(ValueError, match='teacher gives 4 feature levels'):
        model(**batch(model), mode='loss')

    with pytest.raises(ValueError, match=r'model\.student_type='):
        build(dict(distill_model(), student_type='SingleStageDetector'))
    with pytest.raises(ValueError, match=r'model\.distill_cfg is empty'):
        build(dict(distill_model(), distill_cfg={}))
    with pytest.raises(TypeError, match=r'model\.distill_cfg\.bad'):
        build(dict(distill_model(),
                   distill_cfg=dict(bad=dict(type='CrossEntropyLoss'))))
    wrong_ckpt = save_teacher(tmp_path / 'wide.pth', wide)
    model = build(distill_model(teacher_ckpt=wrong_ckpt))
    with pytest.raises(RuntimeError, match=r'model\.teacher_ckpt=.*does not '
                       'fit'):
        model.init_weights()
    assert isinstance(model, DistillTwoStageDetector)


def test_single_stage_ssd_student(mmdet_scope, tmp_path):
    # the demo SSD at half its width, on 64 px images (maps 8, 4, 2, 1)
    ssd = demo_model('ssd_vgg16_ste_demo.py', shrink=False)
    ssd.backbone.base_channels = 8
    channels = [64, 128, 64, 32]
    ssd.neck.in_channels = channels[:2]
    ssd.neck.out_channels = channels
    ssd.bbox_head.in_channels = channels
    ckpt = save_teacher(tmp_path / 'ssd.pth', ssd)
    cfg = dict(
        ssd,
        type='DistillSingleStageDetector',
        teacher_cfg=dict(model=ssd),
        teacher_ckpt=ckpt,
        distill_cfg=dict(
            feat=dict(type='FeatureImitationLoss',
                      student_channels=channels, teacher_channels=channels),
            logit=dict(type='LogitKDLoss', tau=2.0)))
    model = build(cfg)
    model.init_weights()  # SSDNeck's L2Norm scale is set only here
    model.train()
    from mmdet.testing import demo_mm_inputs
    data = model.data_preprocessor(
        demo_mm_inputs(2, [[3, 64, 64]] * 2, num_classes=4), True)
    losses = model(**data, mode='loss')
    assert {'loss_cls', 'loss_bbox', 'loss_kd_feat', 'loss_kd_logit'} <= \
        set(losses)
    # the class-score loss: KL over the K+1 scores of every anchor, the
    # student's and the teacher's in mmdet's anchor order
    with torch.no_grad():
        student = model.bbox_head(model.extract_feat(data['inputs']))[0]
        teacher = model.teacher.bbox_head(
            model.teacher.extract_feat(data['inputs']))[0]
        k = model.bbox_head.cls_out_channels
        flat_s = torch.cat(
            [s.permute(0, 2, 3, 1).reshape(-1, k) for s in student])
        flat_t = torch.cat(
            [t.permute(0, 2, 3, 1).reshape(-1, k) for t in teacher])
        expected = float(model.distill_losses['logit'](flat_s, flat_t))
    assert flat_s.shape[0] == 2 * sum(model.bbox_head.prior_generator
                                      .num_base_priors[i] * (8 >> i)**2
                                      for i in range(4))
    assert math.isfinite(expected) and expected > 0
    assert float(losses['loss_kd_logit'].detach()) == pytest.approx(
        expected, rel=1e-4)
    # the detection losses are mmdet's SingleStageDetector.loss's
    expected = _plain_student(model, ssd).loss(data['inputs'],
                                               data['data_samples'])
    assert set(losses) == set(expected) | {'loss_kd_feat', 'loss_kd_logit'}
    _assert_same_losses(losses, expected)
    loss, _ = model.parse_losses(losses)
    loss.backward()
    assert all(p.grad is not None
               for p in model.distill_losses.parameters())
    assert all(p.grad is None for p in model.teacher.parameters())
    assert type(unwrap_distill(model)).__name__ == 'SingleStageDetector'
