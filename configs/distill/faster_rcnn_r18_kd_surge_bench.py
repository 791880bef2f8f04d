# Distillation with SURGE on GlyphBench: as faster_rcnn_r18_kd_ste_bench.py,
# the student trained with SURGE (../bench/faster_rcnn_r18_surge_bench.py).
_base_ = ['../bench/faster_rcnn_r18_surge_bench.py', '../_base_/distill.py']

model = dict(
    type='DistillTwoStageDetector',
    student_type='FasterRCNN',
    teacher_cfg='{{ fileDirname }}/../bench/faster_rcnn_r18_fp_bench.py',
    teacher_ckpt='work_dirs/faster_rcnn_r18_fp_bench/epoch_4.pth',
    distill_cfg={{_base_.kd_bench_losses}})
custom_hooks = [{{_base_.surge_hook}}, {{_base_.distill_hook}}]
