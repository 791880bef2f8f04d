# Copyright (c) mmbnn contributors. All rights reserved.
"""GlyphCls: a CPU-sized image classification benchmark of real font
glyphs on real photographs, written in CIFAR-10's python-pickle layout.

Each 32x32 image shows one character, one of :data:`CLS_CLASSES` (24
capital letters and the digits 2-9: ``I``/``1`` and ``O``/``0`` left out,
which many fonts draw alike), rendered at 2x and downsampled: a random
font, height 14-26 px, rotation up to 20 degrees and position, filled with
a photographic texture in a colour contrasting with a crop of a
photograph (its contrast halved), with pasted clutter, lines, and in 30%
of the images a small lower-case letter beside it.

Content comes only from files that ship inside installed packages, and
contains none of GlyphBench's test split, so that a backbone pretrained
here and fine-tuned on GlyphBench detection is still tested there on
unseen fonts and photographs:

- train: GlyphBench's training fonts and photographs (DejaVu, STIX,
  Computer Modern fonts from matplotlib; scikit-image and matplotlib
  sample photographs);
- test: fonts and images that GlyphBench does not use at all
  (:data:`CLS_FONTS` / :data:`CLS_PHOTOS` ``['test']``).

Train and test share no font and no photograph.
"""
import json
import os
import os.path as osp
import pickle
from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from ..utils import atomic_file
from .glyph_bench import FONTS, PHOTOS, crop_photo, render_glyph
from .layouts import read_manifest, uint8_image

CLS_CLASSES = tuple('ABCDEFGHJKLMNPQRSTUVWXYZ23456789')
FORMAT_VERSION = 3
MANIFEST = 'glyph_cls.json'
BATCH_SIZE = 10000  # images per data_batch_<i> file, as CIFAR-10

CLS_FONTS = dict(
    train=FONTS['trainval'],
    test=('DejaVuSans-BoldOblique', 'DejaVuSansMono-Oblique',
          'DejaVuSansMono-BoldOblique', 'DejaVuSerif-BoldItalic',
          'STIXGeneralBolIta', 'cmti10'))
CLS_PHOTOS = dict(
    train=PHOTOS['trainval'],
    test=('skimage:cell.png', 'skimage:microaneurysms.png',
          'skimage:clock_motion.png', 'skimage:color.png',
          'skimage:phantom.png'))


def _plain_background(rng: np.random.Generator, photos: Sequence[str],
                      size: int) -> np.ndarray:
    """A crop of a random photograph (random scale and flip), colour
    jittered, at a third of its contrast."""
    img = crop_photo(rng, photos[rng.integers(len(photos))], size, size)
    img = img * rng.uniform(0.8, 1.2, 3)
    mean = img.mean(axis=(0, 1), keepdims=True)
    return mean + (img - mean) / 3


def render_sample(rng: np.random.Generator, split: str,
                  size: int = 32) -> Tuple[np.ndarray, int]:
    """One ``size x size`` BGR ``uint8`` image of ``split`` and its label."""
    fonts, photos = CLS_FONTS[split], CLS_PHOTOS[split]
    big = 2 * size  # render at 2x, then area-downsample: smooth edges
    img = _plain_background(rng, photos, big)
    label = int(rng.integers(len(CLS_CLASSES)))
    height = int(rng.integers(round(big * 0.5), round(big * 0.85) + 1))
    alpha = render_glyph(CLS_CLASSES[label], fonts[rng.integers(len(fonts))],
                         height, float(rng.uniform(-15, 15)))
    h, w = alpha.shape
    h, w = min(h, big), min(w, big)
    alpha = alpha[:h, :w]
    x = int(rng.integers(0, big - w + 1))
    y = int(rng.integers(0, big - h + 1))
    region = img[y:y + h, x:x + w]
    # a plain fill whose brightness is far from the background's
    color = rng.uniform(0, 255, 3)
    target = rng.uniform(170, 250) if region.mean() < 128 else \
        rng.uniform(5, 85)
    color = np.clip(color * (target / max(1.0, color.mean())), 0, 255)
    a = alpha[..., None]
    region[:] = region * (1 - a) + color * a
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    img += rng.normal(0, 4, img.shape)
    return uint8_image(img), label


def _write_batch(path: str, images: Sequence[np.ndarray],
                 labels: Sequence[int], name: str) -> None:
    """One CIFAR batch file: RGB planes as rows, written atomically."""
    rgb = np.stack(images)[..., ::-1]
    rows = np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)).reshape(
        len(images), -1)
    batch = {b'batch_label': name.encode(), b'data': rows,
             b'labels': [int(v) for v in labels]}
    with atomic_file(path) as tmp, open(tmp, 'wb') as f:
        pickle.dump(batch, f, protocol=4)


def generate_glyph_cls(root: str,
                       num_train: int = 20000,
                       num_test: int = 4000,
                       image_size: int = 32,
                       seed: int = 0,
                       force: bool = False) -> Dict:
    """Write GlyphCls under ``root`` in CIFAR-10's layout
    (``data_batch_<i>``, ``test_batch``, ``batches.meta``) with the manifest
    ``glyph_cls.json``.

    Deterministic by ``seed`` (each split draws from its own stream, so the
    test split does not depend on ``num_train``) and idempotent: a manifest
    with the same parameters leaves the files as they are.

    Args:
        root (str): Output folder.
        num_train (int): Training images. Defaults to 20000.
        num_test (int): Test images. Defaults to 4000.
        image_size (int): Image side (px). Defaults to 32.
        seed (int): Generator seed. Defaults to 0.
        force (bool): Regenerate even if up to date. Defaults to False.

    Returns:
        dict: The manifest (parameters, class counts per split, sources).
    """
    if num_train < 1 or num_test < 1:
        raise ValueError(f'num_train and num_test must be >= 1, got '
                         f'num_train={num_train}, num_test={num_test}')
    if not 16 <= image_size <= 128:
        raise ValueError(f'image_size must be in [16, 128], got '
                         f'{image_size}')
    params = dict(format_version=FORMAT_VERSION, num_train=num_train,
                  num_test=num_test, image_size=image_size, seed=seed,
                  classes=list(CLS_CLASSES))
    old = read_manifest(root, MANIFEST, params)
    if old is not None and not force:
        return old
    os.makedirs(root, exist_ok=True)
    manifest_path = osp.join(root, MANIFEST)
    if osp.isfile(manifest_path):
        os.remove(manifest_path)  # the files below are being replaced
    for name in os.listdir(root):
        if name.startswith('data_batch_'):
            os.remove(osp.join(root, name))
    counts = {}
    for index, (split, count) in enumerate(
            (('train', num_train), ('test', num_test))):
        rng = np.random.default_rng([seed, index])
        samples = [render_sample(rng, split, image_size)
                   for _ in range(count)]
        labels = [s[1] for s in samples]
        counts[split] = np.bincount(labels,
                                    minlength=len(CLS_CLASSES)).tolist()
        if split == 'test':
            _write_batch(osp.join(root, 'test_batch'),
                         [s[0] for s in samples], labels, 'testing batch 1')
            continue
        for b, start in enumerate(range(0, count, BATCH_SIZE), 1):
            chunk = samples[start:start + BATCH_SIZE]
            _write_batch(osp.join(root, f'data_batch_{b}'),
                         [s[0] for s in chunk], [s[1] for s in chunk],
                         f'training batch {b}')
    meta = {b'label_names': [c.encode() for c in CLS_CLASSES],
            b'num_cases_per_batch': BATCH_SIZE,
            b'num_vis': 3 * image_size * image_size}
    with open(osp.join(root, 'batches.meta'), 'wb') as f:
        pickle.dump(meta, f, protocol=4)
    # as read back from the file (lists, not tuples)
    manifest = json.loads(json.dumps(dict(
        params=params, counts=counts, fonts=CLS_FONTS, photos=CLS_PHOTOS)))
    with atomic_file(manifest_path) as tmp, open(tmp, 'w') as f:
        json.dump(manifest, f, indent=2)
    return manifest
