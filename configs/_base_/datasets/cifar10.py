# CIFAR-10, python version (https://www.cs.toronto.edu/~kriz/cifar.html):
# extract cifar-10-python.tar.gz into data/ (data/cifar-10-batches-py).
dataset_type = 'CIFAR10'
data_root = 'data/cifar-10-batches-py'
num_classes = 10

train_pipeline = [
    dict(type='ClsRandomCrop', size=32, padding=4),
    dict(type='ClsRandomFlip', prob=0.5),
    dict(type='PackClsInputs')
]
test_pipeline = [dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=128,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsAccuracy', topk=(1, 5))
test_evaluator = val_evaluator
data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    bgr_to_rgb=True)
