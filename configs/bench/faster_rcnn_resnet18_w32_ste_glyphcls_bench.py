# faster_rcnn_resnet18_w32_ste_bench.py with its backbone initialized from
# the binary GlyphCls classifier of
# configs/cls/glyph_cls/resnet18_ste_glyph_cls.py (every backbone key
# loaded, BinaryPretrained). Train it first:
#   python tools/analysis_tools/compare_methods.py \
#       configs/cls/glyph_cls/resnet18_ste_glyph_cls.py --seeds 0 \
#       --work-dir work_dirs/glyph_cls
# or point model.backbone.init_cfg.checkpoint at your own checkpoint.
_base_ = './faster_rcnn_resnet18_w32_ste_bench.py'
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='BinaryPretrained',
            checkpoint='work_dirs/glyph_cls/'
            'resnet18_ste_glyph_cls/seed_0/epoch_6.pth',
            prefix='backbone.')))
