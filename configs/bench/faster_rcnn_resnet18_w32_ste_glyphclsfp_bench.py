# faster_rcnn_resnet18_w32_ste_bench.py with its binary backbone initialized
# from the full-precision GlyphCls classifier of
# configs/cls/glyph_cls/resnet18_fp_glyph_cls.py: what the VOC/COCO
# configs do with torchvision's ImageNet weights.
_base_ = './faster_rcnn_resnet18_w32_ste_glyphcls_bench.py'
model = dict(
    backbone=dict(
        init_cfg=dict(
            checkpoint='work_dirs/glyph_cls/'
            'resnet18_fp_glyph_cls/seed_0/epoch_6.pth')))
