# Copyright (c) mmbnn contributors. All rights reserved.
"""A toy model of binary convs and a toy dataset, for hook tests with a real
MMEngine Runner (seconds on CPU)."""
import uuid

import torch
from mmengine.dataset import BaseDataset
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS
from torch import nn


@MODELS.register_module(force=True)
class ToyBinaryNet(BaseModel):
    """real stem -> two binary 3x3 convs (conv_cfg) -> pooled regression."""

    def __init__(self, conv_cfg: dict = dict(type='BinaryConv')) -> None:
        super().__init__()
        from mmcv.cnn import build_conv_layer
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.conv1 = build_conv_layer(conv_cfg, 8, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = build_conv_layer(conv_cfg, 8, 4, 3, stride=2, padding=1)
        self.head = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        x = self.stem(x)
        x = self.bn1(self.conv1(x)) + x
        out = self.head(self.conv2(x).mean(dim=(2, 3))).squeeze(1)
        if mode == 'loss':
            target = torch.stack(data_samples)
            return dict(loss=((out - target)**2).mean())
        return out


class GeneratedDataset(BaseDataset):
    """``length`` items that ``__getitem__`` makes (no annotation file)."""

    def __init__(self, length: int, **kwargs) -> None:
        self.length = length
        super().__init__(serialize_data=False, lazy_init=True, **kwargs)

    def load_data_list(self):
        return []

    def __len__(self) -> int:
        return self.length


@DATASETS.register_module(force=True)
class ToyImageDataset(GeneratedDataset):
    """Deterministic random 3x12x12 images with a scalar target."""

    def __init__(self, length: int = 16, **kwargs) -> None:
        super().__init__(length, **kwargs)

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        img = torch.randn(3, 12, 12, generator=g)
        return dict(inputs=img, data_samples=img.mean() * 3)


def toy_runner_cfg(work_dir, custom_hooks, conv_cfg, max_iters=6,
                   ckpt_interval=3):
    """An iteration-based Runner config for :class:`ToyBinaryNet`."""
    return dict(
        model=dict(type='ToyBinaryNet', conv_cfg=conv_cfg),
        work_dir=str(work_dir),
        experiment_name=f'toy_{uuid.uuid4().hex}',
        train_dataloader=dict(
            dataset=dict(type='ToyImageDataset'),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4, num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        custom_hooks=custom_hooks,
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=ckpt_interval),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='mmdet')
