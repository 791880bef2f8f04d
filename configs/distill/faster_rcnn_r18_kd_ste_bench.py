# Distillation on GlyphBench: the binary (clipped STE) Faster R-CNN
# BiReal-R18-FPN of ../bench/faster_rcnn_r18_ste_bench.py learns from the
# frozen full-precision R18-FPN of ../bench/faster_rcnn_r18_fp_bench.py
# (feature imitation + CWD on the 5 FPN levels, RoI logit KD).
# Train the teacher first; its last checkpoint is the path below:
#   python tools/train.py configs/bench/faster_rcnn_r18_fp_bench.py
#   python tools/train.py configs/distill/faster_rcnn_r18_kd_ste_bench.py
# (another teacher checkpoint: --cfg-options model.teacher_ckpt=PATH)
_base_ = ['../bench/faster_rcnn_r18_ste_bench.py', '../_base_/distill.py']

model = dict(
    type='DistillTwoStageDetector',
    student_type='FasterRCNN',
    teacher_cfg='{{ fileDirname }}/../bench/faster_rcnn_r18_fp_bench.py',
    teacher_ckpt='work_dirs/faster_rcnn_r18_fp_bench/epoch_4.pth',
    distill_cfg={{_base_.kd_bench_losses}})
custom_hooks = [{{_base_.distill_hook}}]
