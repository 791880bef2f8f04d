# Distillation on VOC07+12: the binary (clipped STE) SSD300 BinarySSDVGG-16
# of ../ssd300_vgg16_ste_voc.py learns from the frozen full-precision SSD300
# VGG-16 of ../ssd300_vgg16_fp_voc.py (feature imitation + CWD on the 6
# SSDNeck levels, class-score KD on every anchor). Train the teacher first:
#   python tools/train.py configs/ssd300_vgg16_fp_voc.py
#   python tools/train.py configs/distill/ssd300_vgg16_kd_ste_voc.py
_base_ = ['../ssd300_vgg16_ste_voc.py', '../_base_/distill.py']

model = dict(
    type='DistillSingleStageDetector',
    student_type='SingleStageDetector',
    teacher_cfg='{{ fileDirname }}/../ssd300_vgg16_fp_voc.py',
    # the last checkpoint of the teacher's run (24 epochs); placeholder
    # for another path: --cfg-options model.teacher_ckpt=PATH
    teacher_ckpt='work_dirs/ssd300_vgg16_fp_voc/epoch_24.pth',
    distill_cfg={{_base_.kd_ssd300_losses}})
custom_hooks = [{{_base_.distill_hook}}]
