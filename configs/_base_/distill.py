# Distillation settings shared by the configs/distill/ configs. Only
# variables; a config applies them with
#   model = dict(type='DistillTwoStageDetector', teacher_cfg=...,
#                teacher_ckpt=..., distill_cfg={{_base_.kd_bench_losses}})
#   custom_hooks = [..., {{_base_.distill_hook}}]
# The weights are untuned defaults; with them, KD + STE reaches 0.530 +-
# 0.015 mAP@0.5 on GlyphBench (docs/en/results.md, "Distillation from the
# FP teacher"). No other weights were measured.

# Faster R-CNN R18-FPN on GlyphBench: 5 FPN levels of 128 channels in the
# student and in the FP teacher (configs/bench/faster_rcnn_r18_fp_bench.py)
kd_bench_losses = dict(
    # fg/bg-weighted imitation of every FPN level through 1x1 adapters,
    # each channel standardized (binary and FP features differ in scale)
    feat=dict(
        type='FeatureImitationLoss',
        student_channels=128,
        teacher_channels=128,
        num_levels=5,
        fg_weight=1.0,
        bg_weight=0.5,
        mode='normalized',
        loss_weight=1.0),
    # channel-wise distillation (spatial softmax per channel, KL, tau^2)
    cwd=dict(
        type='ChannelWiseDivergenceLoss',
        student_channels=128,
        teacher_channels=128,
        num_levels=5,
        tau=1.0,
        loss_weight=1.0),
    # the teacher's RoI head scores the student's sampled RoIs; KL at tau
    logit=dict(type='LogitKDLoss', tau=2.0, loss_weight=1.0))

# Faster R-CNN R18-FPN student / R50-FPN teacher on VOC: 5 levels of 256
kd_voc_losses = dict(
    feat=dict(kd_bench_losses['feat'], student_channels=256,
              teacher_channels=256),
    cwd=dict(kd_bench_losses['cwd'], student_channels=256,
             teacher_channels=256),
    logit=kd_bench_losses['logit'])

# SSD300: the 6 SSDNeck levels, the same channels in the binary student and
# the FP teacher; class-score distillation on every anchor
ssd300_channels = [512, 1024, 512, 256, 256, 256]
kd_ssd300_losses = dict(
    feat=dict(kd_bench_losses['feat'], student_channels=ssd300_channels,
              teacher_channels=ssd300_channels, num_levels=None),
    cwd=dict(kd_bench_losses['cwd'], student_channels=ssd300_channels,
             teacher_channels=ssd300_channels, num_levels=None),
    logit=kd_bench_losses['logit'])

# linear warm-up of every distillation weight over the first epoch
distill_hook = dict(
    type='DistillHook', schedule='linear_warmup', begin=0, end=1,
    by_epoch=True, start_factor=0.0, interval=50)
