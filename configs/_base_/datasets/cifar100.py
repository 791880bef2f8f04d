# CIFAR-100, python version: extract cifar-100-python.tar.gz into data/
# (data/cifar-100-python); fine labels.
_base_ = './cifar10.py'

dataset_type = 'CIFAR100'
data_root = 'data/cifar-100-python'
num_classes = 100
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
data_preprocessor = dict(
    mean=[129.304, 124.070, 112.434], std=[68.170, 65.392, 70.418])
