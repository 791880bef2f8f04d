# Distillation with StoMPP+STE on GlyphBench: as
# faster_rcnn_r18_kd_ste_bench.py, the student binarized progressively
# (../bench/faster_rcnn_r18_stompp_ste_bench.py, schedule ends at epoch 3).
_base_ = [
    '../bench/faster_rcnn_r18_stompp_ste_bench.py', '../_base_/distill.py'
]

model = dict(
    type='DistillTwoStageDetector',
    student_type='FasterRCNN',
    teacher_cfg='{{ fileDirname }}/../bench/faster_rcnn_r18_fp_bench.py',
    teacher_ckpt='work_dirs/faster_rcnn_r18_fp_bench/epoch_4.pth',
    distill_cfg={{_base_.kd_bench_losses}})
custom_hooks = [
    dict(type='StoMPPHook', begin=0, end={{_base_.stompp_end}},
         by_epoch=True), {{_base_.distill_hook}}
]
