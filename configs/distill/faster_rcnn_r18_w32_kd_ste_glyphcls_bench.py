# Distillation on top of a 1-bit pretrained backbone on GlyphBench: the
# binary Faster R-CNN of ../bench/faster_rcnn_r18_w32_ste_glyphcls_bench.py
# (BiRealResNet-18 at width 32, initialized from the binary GlyphCls
# classifier, binary FPN with 128 channels) learns from the frozen
# full-precision R18-FPN of ../bench/faster_rcnn_r18_fp_bench.py with the
# losses of faster_rcnn_r18_kd_ste_bench.py. Train the classifier and the
# teacher first; their last checkpoints are the paths below:
#   python tools/analysis_tools/compare_methods.py \
#       configs/cls/glyph_cls/bireal18_ste_glyph_cls.py --seeds 0 \
#       --work-dir work_dirs/glyph_cls
#   python tools/train.py configs/bench/faster_rcnn_r18_fp_bench.py
#   python tools/train.py \
#       configs/distill/faster_rcnn_r18_w32_kd_ste_glyphcls_bench.py
_base_ = [
    '../bench/faster_rcnn_r18_w32_ste_glyphcls_bench.py',
    '../_base_/distill.py'
]

model = dict(
    type='DistillTwoStageDetector',
    student_type='FasterRCNN',
    teacher_cfg='{{ fileDirname }}/../bench/faster_rcnn_r18_fp_bench.py',
    teacher_ckpt='work_dirs/faster_rcnn_r18_fp_bench/epoch_4.pth',
    distill_cfg={{_base_.kd_bench_losses}})
custom_hooks = [{{_base_.distill_hook}}]
