# Copyright (c) mmbnn contributors. All rights reserved.
"""A small, deterministic synthetic detection dataset in real VOC and COCO
layouts, so mmdet's own ``VOCDataset``/``CocoDataset`` and
``VOCMetric``/``CocoMetric`` run end to end without downloads.

The files are written by
:class:`~mmbnn.datasets.layouts.DetectionDatasetWriter` (VOC XML, COCO JSON
and a ``demo_dataset.json`` manifest for idempotence).

Each image has a smooth random background, clutter (lines, dots, blobs that
belong to no class) and 1-4 objects of four classes that differ in shape and
texture: ``circle`` (solid), ``square`` (stripes), ``triangle`` (checker) and
``cross`` (solid). Colours are random (they carry no class information),
sizes vary, and unlabeled pentagons and hollow frames act as distractors.
"""
from typing import Dict, List, Tuple

import cv2
import numpy as np

from .layouts import (DetectionDatasetWriter, box_iou, read_manifest,
                      uint8_image)

DEMO_CLASSES = ('circle', 'square', 'triangle', 'cross')
FORMAT_VERSION = 2
MANIFEST = 'demo_dataset.json'


def _texture(rng: np.random.Generator, label: int, h: int, w: int,
             color: np.ndarray) -> np.ndarray:
    """A ``h x w x 3`` patch: the class texture in ``color``."""
    patch = np.empty((h, w, 3), np.float32)
    patch[:] = color
    yy, xx = np.mgrid[0:h, 0:w]
    period = int(rng.integers(4, 8))
    if label == 1:  # stripes
        dark = ((xx + yy) // period) % 2 == 0
    elif label == 2:  # checker
        dark = ((xx // period) + (yy // period)) % 2 == 0
    else:
        dark = np.zeros((h, w), bool)
    patch[dark] *= 0.35
    return patch


def _shape_mask(label: int, h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    if label == 0:
        cv2.ellipse(mask, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0,
                    360, 1, -1)
    elif label == 1:
        mask[:] = 1
    elif label == 2:
        pts = np.array([[w // 2, 0], [w - 1, h - 1], [0, h - 1]], np.int32)
        cv2.fillPoly(mask, [pts], 1)
    else:
        bw, bh = max(2, w // 3), max(2, h // 3)
        mask[:, (w - bw) // 2:(w + bw) // 2] = 1
        mask[(h - bh) // 2:(h + bh) // 2, :] = 1
    return mask.astype(bool)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    low = rng.uniform(40, 200, size=(3, 3, 3)).astype(np.float32)
    img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    img += rng.normal(0, 8, img.shape).astype(np.float32)
    # clutter: thin lines, dots and soft blobs of no class
    for _ in range(int(rng.integers(3, 8))):
        p1, p2 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        cv2.line(img, tuple(map(int, p1)), tuple(map(int, p2)),
                 tuple(map(float, rng.uniform(0, 255, 3))), 1)
    for _ in range(int(rng.integers(5, 15))):
        c = tuple(map(int, rng.integers(0, size, 2)))
        cv2.circle(img, c, int(rng.integers(1, 3)),
                   tuple(map(float, rng.uniform(0, 255, 3))), -1)
    for _ in range(int(rng.integers(1, 3))):
        c = tuple(map(int, rng.integers(0, size, 2)))
        axes = tuple(map(int, rng.integers(4, size // 6, 2)))
        blob = np.zeros_like(img)
        cv2.ellipse(blob, c, axes, float(rng.uniform(0, 180)), 0, 360,
                    tuple(map(float, rng.uniform(0, 255, 3))), -1)
        blob = cv2.GaussianBlur(blob, (0, 0), 3)
        img = np.where(blob.sum(-1, keepdims=True) > 0,
                       0.5 * img + 0.5 * blob, img)
    return img


def _distractors(rng: np.random.Generator, img: np.ndarray) -> None:
    """Object-like clutter of no class: filled pentagons, hollow frames."""
    size = img.shape[0]
    for _ in range(int(rng.integers(0, 3))):
        r = int(rng.integers(8, size // 6))
        cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
        color = tuple(map(float, rng.uniform(0, 255, 3)))
        if rng.random() < 0.5:
            ang = rng.uniform(0, 2 * np.pi) + np.arange(5) * 2 * np.pi / 5
            pts = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1)
            cv2.fillPoly(img, [pts.astype(np.int32)], color)
        else:
            cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), color, 2)


def render_image(rng: np.random.Generator, size: int, min_obj: int,
                 max_obj: int) -> Tuple[np.ndarray, List[Tuple[int, list]]]:
    """Draw one image.

    Returns:
        tuple: ``(uint8 BGR image, [(label, [x1, y1, x2, y2]), ...])`` with
        pixel-edge box coordinates (``x2``/``y2`` exclusive).
    """
    img = _background(rng, size)
    _distractors(rng, img)
    objects: List[Tuple[int, list]] = []
    for _ in range(int(rng.integers(1, 5))):
        for _attempt in range(20):
            w = int(rng.integers(min_obj, max_obj + 1))
            h = int(np.clip(w * rng.uniform(0.75, 1.33), min_obj, max_obj))
            x1, y1 = int(rng.integers(0, size - w)), int(
                rng.integers(0, size - h))
            box = [x1, y1, x1 + w, y1 + h]
            if all(box_iou(box, b) < 0.1 for _, b in objects):
                break
        else:
            continue
        label = int(rng.integers(len(DEMO_CLASSES)))
        # colour says nothing about the class: shape and texture do
        color = rng.uniform(0, 255, 3).astype(np.float32)
        mask = _shape_mask(label, h, w)
        patch = _texture(rng, label, h, w, color)
        region = img[y1:y1 + h, x1:x1 + w]
        region[mask] = patch[mask]
        objects.append((label, box))
    return uint8_image(img), objects


def generate_demo_dataset(root: str,
                          num_trainval: int = 240,
                          num_test: int = 60,
                          image_size: int = 128,
                          min_obj: int = 20,
                          max_obj: int = 52,
                          seed: int = 0,
                          force: bool = False) -> Dict:
    """Write the demo dataset under ``root`` (see module docstring).

    Idempotent: when ``root/demo_dataset.json`` records the same parameters
    the files are left as they are.

    Args:
        root (str): Output folder.
        num_trainval (int): Images in the ``trainval`` split. Defaults to 240.
        num_test (int): Images in the ``test`` split. Defaults to 60.
        image_size (int): Square image side in pixels. Defaults to 128.
        min_obj (int): Smallest object side. Defaults to 20.
        max_obj (int): Largest object side. Defaults to 52.
        seed (int): Seed of the generator. Defaults to 0.
        force (bool): Regenerate even if up to date. Defaults to False.

    Returns:
        dict: The parameters and per-split statistics.
    """
    if not 0 < min_obj <= max_obj < image_size:
        raise ValueError('need 0 < min_obj <= max_obj < image_size, got '
                         f'min_obj={min_obj}, max_obj={max_obj}, '
                         f'image_size={image_size}')
    params = dict(format_version=FORMAT_VERSION, num_trainval=num_trainval,
                  num_test=num_test, image_size=image_size, min_obj=min_obj,
                  max_obj=max_obj, seed=seed, classes=list(DEMO_CLASSES))
    old = read_manifest(root, MANIFEST, params)
    if old is not None and not force:
        return old
    writer = DetectionDatasetWriter(root, DEMO_CLASSES, supercategory='shape')
    rng = np.random.default_rng(seed)
    for split, count in (('trainval', num_trainval), ('test', num_test)):
        writer.write_split(
            split, (render_image(rng, image_size, min_obj, max_obj)
                    for _ in range(count)))
    return writer.finish(MANIFEST, params)
