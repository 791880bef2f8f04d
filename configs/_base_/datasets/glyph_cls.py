# GlyphCls (tools/dataset_converters/make_glyph_cls.py): 32 classes of
# 32x32 glyph images in CIFAR-10's layout; train and test fonts and
# photographs disjoint. Upscaled to 64 px for the ImageNet-style stem of the
# configs (the input size of the GlyphBench detectors' backbones). No flip:
# mirrored letters are other glyphs.
dataset_type = 'CIFAR10'
data_root = 'data/glyph_cls'
num_classes = 32

train_pipeline = [
    dict(type='ResizeShortEdge', size=64),
    dict(type='ClsRandomCrop', size=64, padding=4),
    dict(type='PackClsInputs')
]
test_pipeline = [
    dict(type='ResizeShortEdge', size=64),
    dict(type='PackClsInputs')
]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=200,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsAccuracy', topk=(1, 5))
test_evaluator = val_evaluator
# GlyphCls images are BGR uint8 after the dataset; normalized per channel
data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[127.5, 127.5, 127.5],
    std=[64.0, 64.0, 64.0],
    bgr_to_rgb=True)
