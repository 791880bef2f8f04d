# Copyright (c) mmbnn contributors. All rights reserved.
"""Data transforms of image classification (``results['img']``: an HWC
``uint8`` array), registered in mmdet's ``TRANSFORMS`` so classification
configs run under mmdet's default scope. They need neither torchvision
nor mmpretrain."""
import math
import random
from typing import Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmengine.structures import BaseDataElement

from ...utils import to_pair

_Size = Union[int, Tuple[int, int]]


@TRANSFORMS.register_module()
class ClsRandomCrop(BaseTransform):
    """Zero-pad by ``padding`` on every side, then crop ``size`` at a
    random position (the CIFAR recipe: ``size=32, padding=4``)."""

    def __init__(self, size: _Size, padding: int = 0) -> None:
        self.size, self.padding = to_pair(size, 'size'), int(padding)

    def transform(self, results: dict) -> dict:
        img = results['img']
        if self.padding:
            p = self.padding
            img = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_CONSTANT,
                                     value=0)
        h, w = self.size
        if img.shape[0] < h or img.shape[1] < w:
            raise ValueError(f'ClsRandomCrop: size={self.size} exceeds the '
                             f'padded image {img.shape[:2]}')
        y = random.randint(0, img.shape[0] - h)
        x = random.randint(0, img.shape[1] - w)
        results['img'] = np.ascontiguousarray(img[y:y + h, x:x + w])
        results['img_shape'] = (h, w)
        return results


@TRANSFORMS.register_module()
class ClsRandomResizedCrop(BaseTransform):
    """Crop a random area fraction in ``scale`` with aspect ratio in
    ``ratio`` (log-uniform) and resize it to ``size`` (the ImageNet
    recipe; centre crop after 10 failed draws)."""

    def __init__(self,
                 size: _Size,
                 scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3)) -> None:
        self.size = to_pair(size, 'size')
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def _box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * random.uniform(*self.scale)
            aspect = math.exp(random.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return (random.randint(0, h - ch), random.randint(0, w - cw),
                        ch, cw)
        side = min(h, w)
        return (h - side) // 2, (w - side) // 2, side, side

    def transform(self, results: dict) -> dict:
        img = results['img']
        y, x, ch, cw = self._box(*img.shape[:2])
        h, w = self.size
        results['img'] = cv2.resize(img[y:y + ch, x:x + cw], (w, h),
                                    interpolation=cv2.INTER_LINEAR)
        results['img_shape'] = (h, w)
        return results


@TRANSFORMS.register_module()
class ResizeShortEdge(BaseTransform):
    """Resize so that the shorter side is ``size``, keeping the ratio."""

    def __init__(self, size: int) -> None:
        self.size = int(size)

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = img.shape[:2]
        scale = self.size / min(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        results['img'] = cv2.resize(img, (nw, nh),
                                    interpolation=cv2.INTER_LINEAR)
        results['img_shape'] = (nh, nw)
        return results


@TRANSFORMS.register_module()
class ClsCenterCrop(BaseTransform):
    """Crop ``size`` at the centre."""

    def __init__(self, size: _Size) -> None:
        self.size = to_pair(size, 'size')

    def transform(self, results: dict) -> dict:
        img = results['img']
        h, w = self.size
        if img.shape[0] < h or img.shape[1] < w:
            raise ValueError(f'ClsCenterCrop: size={self.size} exceeds the '
                             f'image {img.shape[:2]}')
        y, x = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        results['img'] = np.ascontiguousarray(img[y:y + h, x:x + w])
        results['img_shape'] = (h, w)
        return results


@TRANSFORMS.register_module()
class ClsRandomFlip(BaseTransform):
    """Horizontal flip with probability ``prob``."""

    def __init__(self, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = float(prob)

    def transform(self, results: dict) -> dict:
        if random.random() < self.prob:
            results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
        return results


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """``inputs``: the image as a CHW ``uint8`` tensor; ``data_samples``: a
    ``BaseDataElement`` with ``gt_label`` (a one-element long tensor) and
    ``img_path`` / ``ori_shape`` / ``img_shape`` where present."""

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        inputs = torch.from_numpy(np.ascontiguousarray(
            img.transpose(2, 0, 1)))
        sample = BaseDataElement(
            metainfo={
                k: results[k]
                for k in ('img_path', 'ori_shape', 'img_shape')
                if k in results
            })
        if 'gt_label' in results:
            sample.gt_label = torch.tensor([int(results['gt_label'])])
        return dict(inputs=inputs, data_samples=sample)
