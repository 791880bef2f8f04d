# faster_rcnn_r18_w32_ste_bench.py with its BiRealResNet-18 initialized from
# the binary GlyphCls classifier of
# configs/cls/glyph_cls/bireal18_ste_glyph_cls.py (BinaryPretrained).
_base_ = './faster_rcnn_r18_w32_ste_bench.py'
model = dict(
    backbone=dict(
        init_cfg=dict(
            _delete_=True,
            type='BinaryPretrained',
            checkpoint='work_dirs/glyph_cls/'
            'bireal18_ste_glyph_cls/seed_0/epoch_6.pth',
            prefix='backbone.')))
