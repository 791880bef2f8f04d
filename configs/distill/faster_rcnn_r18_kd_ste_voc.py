# Distillation on VOC07+12: the binary (clipped STE) Faster R-CNN
# BiReal-R18-FPN of ../faster_rcnn_r18_ste_voc.py learns from a frozen
# full-precision Faster R-CNN R50-FPN, mmdet's VOC config (R50-FPN, 20
# classes, same 1000x600 images and normalization as the student).
_base_ = ['../faster_rcnn_r18_ste_voc.py', '../_base_/distill.py']

model = dict(
    type='DistillTwoStageDetector',
    student_type='FasterRCNN',
    teacher_cfg='mmdet::pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py',
    # Placeholder: the checkpoint of a Faster R-CNN R50-FPN trained with
    # that config (the file pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py
    # under mmdet's installed .mim/configs), or the one mmdet's model zoo
    # lists for it; set yours with --cfg-options model.teacher_ckpt=PATH_OR_URL
    teacher_ckpt='checkpoints/faster_rcnn_r50_fpn_1x_voc0712.pth',
    distill_cfg={{_base_.kd_voc_losses}})
custom_hooks = [{{_base_.distill_hook}}]
