# Copyright (c) mmbnn contributors. All rights reserved.
"""GlyphBench: a detection benchmark built from real photographs and real
font glyphs, on which 1-bit training is hard.

Every image is a crop of a real photograph (one training source is a
drawing) with small letters pasted into it.
The eight classes come in look-alike pairs that differ in one stroke, ``C``/
``G``, ``O``/``Q``, ``E``/``F`` and ``P``/``R``; unlabeled look-alike glyphs
(``D``, ``B``, ``0``, ``L``, ...) act as distractors, and crops of other
photographs as clutter. Glyphs are 16-64 px (the longer box side) in 192 px
images, rotated by up to 15 degrees, filled with a photographic texture in a
colour that contrasts with the local background, some with an outline.

Content comes only from files that ship inside installed packages:

- photographs from ``skimage.data`` (scikit-image's bundled images, public
  domain or CC0 per their docstrings, except the Middlebury motorcycle views
  and ``moon``) and ``grace_hopper.jpg``/``Minduka_Present_Blue_Pack.png``
  from matplotlib's ``sample_data``;
- glyphs from the DejaVu (Bitstream Vera license), STIX (SIL OFL 1.1) and
  Computer Modern (BaKoMa, free) fonts in matplotlib's ``mpl-data/fonts``.

Train and test use disjoint photographs and disjoint fonts, so the test
split measures generalization to unseen appearance. Layouts are those of
:mod:`mmbnn.datasets.layouts` (VOC XML + COCO JSON); the manifest is
``glyph_bench.json``.
"""
import functools
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .layouts import (DetectionDatasetWriter, Objects, box_iou, read_manifest,
                      uint8_image)

GLYPH_CLASSES = ('C', 'G', 'O', 'Q', 'E', 'F', 'P', 'R')
DISTRACTOR_GLYPHS = ('D', 'B', 'U', 'L', 'H', 'K', 'S', '0', '6', '9', '3',
                     '8')
FORMAT_VERSION = 2
MANIFEST = 'glyph_bench.json'

# Photographs and fonts per split: disjoint sources.
PHOTOS = dict(
    trainval=('skimage:astronaut.png', 'skimage:coffee.png',
              'skimage:chelsea.png', 'skimage:rocket.jpg', 'skimage:brick.png',
              'skimage:grass.png', 'skimage:motorcycle_left.png',
              'skimage:motorcycle_right.png', 'skimage:hubble_deep_field.jpg',
              'mpl:Minduka_Present_Blue_Pack.png'),
    test=('skimage:camera.png', 'skimage:coins.png', 'skimage:gravel.png',
          'skimage:retina.jpg', 'skimage:ihc.png', 'skimage:moon.png',
          'mpl:grace_hopper.jpg'))
FONTS = dict(
    trainval=('DejaVuSans', 'DejaVuSans-Bold', 'DejaVuSerif',
              'DejaVuSerif-Bold', 'DejaVuSansMono', 'STIXGeneral',
              'STIXGeneralBol', 'cmr10', 'cmss10'),
    test=('DejaVuSans-Oblique', 'DejaVuSansMono-Bold', 'DejaVuSerif-Italic',
          'STIXGeneralItalic', 'cmb10', 'cmtt10'))
SPLITS = tuple(PHOTOS)


def photo_path(name: str) -> str:
    """Path of a bundled photograph, ``'skimage:<file>'`` (scikit-image's
    ``skimage.data`` folder) or ``'mpl:<file>'`` (matplotlib's
    ``sample_data``)."""
    source, file_name = name.split(':')
    if source == 'skimage':
        import skimage.data
        return osp.join(skimage.data.data_dir, file_name)
    import matplotlib
    return osp.join(matplotlib.get_data_path(), 'sample_data', file_name)


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    """A bundled photograph as a float32 BGR array."""
    img = cv2.imread(photo_path(name), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read bundled image {name!r} at '
                                f'{photo_path(name)}')
    return img.astype(np.float32)


def font_path(name: str) -> str:
    """Path of a font that ships with matplotlib."""
    import matplotlib
    return osp.join(matplotlib.get_data_path(), 'fonts', 'ttf', name + '.ttf')


def crop_photo(rng: np.random.Generator, name: str, h: int,
               w: int) -> np.ndarray:
    """A random crop of the bundled photograph ``name`` (random scale and
    flip) as a float32 BGR ``h x w`` array."""
    return crop_photo_array(rng, _photo(name), h, w)


@functools.lru_cache(maxsize=None)
def _font(name: str, size: int):
    from PIL import ImageFont
    return ImageFont.truetype(font_path(name), size)


def render_glyph(char: str, font: str, height: int,
                 angle: float) -> np.ndarray:
    """The anti-aliased ink of ``char`` as a float32 alpha mask in [0, 1],
    rotated by ``angle`` degrees and cropped to its ink, longer side
    ``height`` px."""
    from PIL import Image, ImageDraw
    size = 96  # render large, then scale down: smooth edges at any height
    canvas = Image.new('L', (2 * size, 2 * size), 0)
    ImageDraw.Draw(canvas).text((size, size), char, fill=255,
                                font=_font(font, size), anchor='mm')
    canvas = canvas.rotate(angle, resample=Image.BILINEAR, expand=True)
    ink = np.asarray(canvas, np.float32) / 255.0
    ys, xs = np.nonzero(ink > 0.25)
    if len(ys) == 0:
        raise ValueError(f'font {font!r} has no ink for {char!r}')
    ink = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    scale = height / max(ink.shape)
    w = max(2, int(round(ink.shape[1] * scale)))
    h = max(2, int(round(ink.shape[0] * scale)))
    return np.clip(cv2.resize(ink, (w, h), interpolation=cv2.INTER_AREA), 0,
                   1)


def crop_photo_array(rng: np.random.Generator, photo: np.ndarray, h: int,
                     w: int) -> np.ndarray:
    """A random crop of ``photo`` (random scale and flip) resized to
    ``h x w``."""
    ph, pw = photo.shape[:2]
    scale = rng.uniform(0.25, 1.0)
    ch = max(8, int(ph * scale * min(1.0, h / max(h, w)) ** 0.5))
    cw = max(8, min(pw, int(ch * w / h)))
    ch = min(ch, ph)
    y0 = int(rng.integers(0, ph - ch + 1))
    x0 = int(rng.integers(0, pw - cw + 1))
    crop = photo[y0:y0 + ch, x0:x0 + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return cv2.resize(np.ascontiguousarray(crop), (w, h),
                      interpolation=cv2.INTER_AREA)


def photo_background(rng: np.random.Generator, photos: Sequence[str],
                     size: int) -> np.ndarray:
    """A ``size x size`` crop of a random photograph with colour jitter,
    pasted crops of other photographs and thin lines (float32 BGR)."""
    img = crop_photo(rng, photos[rng.integers(len(photos))], size, size)
    # colour, contrast and brightness jitter
    img = img * rng.uniform(0.7, 1.3, 3) * rng.uniform(0.6, 1.2)
    img += rng.uniform(-40, 40)
    # clutter: pasted crops of other photographs and thin lines
    for _ in range(int(rng.integers(1, 4))):
        h, w = (int(v) for v in rng.integers(12, size // 3, 2))
        y, x = (int(rng.integers(0, size - v)) for v in (h, w))
        patch = crop_photo(rng, photos[rng.integers(len(photos))], h, w)
        img[y:y + h, x:x + w] = 0.5 * img[y:y + h, x:x + w] + 0.5 * patch
    for _ in range(int(rng.integers(0, 4))):
        p1, p2 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        cv2.line(img, tuple(map(int, p1)), tuple(map(int, p2)),
                 tuple(map(float, rng.uniform(0, 255, 3))), 1, cv2.LINE_AA)
    return np.clip(img, 0, 255)


def paste_glyph(rng: np.random.Generator, img: np.ndarray,
                alpha: np.ndarray, x: int, y: int,
                photos: Sequence[str]) -> None:
    """Composite a glyph filled with a photographic texture in a colour
    that contrasts with the background under it."""
    h, w = alpha.shape
    region = img[y:y + h, x:x + w]
    bg_luma = float(region.mean())
    color = rng.uniform(0, 255, 3)
    # push the fill's brightness away from the background's
    target = rng.uniform(150, 250) if bg_luma < 128 else rng.uniform(5, 100)
    color = color * (target / max(1.0, color.mean()))
    tex = crop_photo(rng, photos[rng.integers(len(photos))], h, w)
    tex = tex.mean(-1, keepdims=True) / 255.0 - 0.5
    fill = np.clip(color + 120 * tex, 0, 255)
    if rng.random() < 0.4:  # a one-pixel outline in the opposite tone
        ring = cv2.dilate(alpha, np.ones((3, 3), np.uint8)) - alpha
        edge = 255.0 - color.mean()
        region[:] = region * (1 - ring[..., None]) + edge * ring[..., None]
    a = alpha[..., None]
    region[:] = region * (1 - a) + fill * a


def render_scene(rng: np.random.Generator, split: str, size: int,
                 min_obj: int, max_obj: int,
                 max_objects: int) -> Tuple[np.ndarray, Objects]:
    """One image of ``split``: background, distractors and labeled glyphs.

    Returns:
        tuple: ``(uint8 BGR image, [(label, [x1, y1, x2, y2]), ...])`` with
        pixel-edge boxes around each labeled glyph's ink.
    """
    photos, fonts = PHOTOS[split], FONTS[split]
    img = photo_background(rng, photos, size)
    num_objects = int(rng.integers(3, max_objects + 1))
    num_distractors = int(rng.integers(2, 6))
    kinds = [True] * num_objects + [False] * num_distractors
    rng.shuffle(kinds)
    placed: List[List[int]] = []
    objects: Objects = []
    for labeled in kinds:
        if labeled:
            label = int(rng.integers(len(GLYPH_CLASSES)))
            char = GLYPH_CLASSES[label]
        else:
            char = DISTRACTOR_GLYPHS[rng.integers(len(DISTRACTOR_GLYPHS))]
        # log-uniform sizes: as many small glyphs as large ones
        height = int(round(np.exp(rng.uniform(np.log(min_obj),
                                              np.log(max_obj)))))
        alpha = render_glyph(char, fonts[rng.integers(len(fonts))], height,
                             float(rng.uniform(-15, 15)))
        h, w = alpha.shape
        for _attempt in range(30):
            x, y = int(rng.integers(0, size - w)), int(rng.integers(0,
                                                                    size - h))
            box = [x, y, x + w, y + h]
            if all(box_iou(box, b) < 0.02 for b in placed):
                break
        else:
            continue
        placed.append(box)
        paste_glyph(rng, img, alpha, x, y, photos)
        if labeled:
            objects.append((label, box))
    img += rng.normal(0, 4, img.shape)  # sensor noise
    return uint8_image(img), objects


def generate_glyph_bench(root: str,
                         num_trainval: int = 400,
                         num_test: int = 100,
                         image_size: int = 192,
                         min_obj: int = 16,
                         max_obj: int = 64,
                         max_objects: int = 8,
                         seed: int = 0,
                         force: bool = False) -> Dict:
    """Write GlyphBench under ``root`` (see the module docstring).

    Deterministic by ``seed`` (each split draws from its own stream, so the
    test split does not change with ``num_trainval``) and idempotent: when
    ``root/glyph_bench.json`` records the same parameters the files are left
    as they are.

    Args:
        root (str): Output folder.
        num_trainval (int): Images in the ``trainval`` split. Defaults to 400.
        num_test (int): Images in the ``test`` split. Defaults to 100.
        image_size (int): Square image side in pixels. Defaults to 192.
        min_obj (int): Smallest glyph box side (the longer one), px.
            Defaults to 16.
        max_obj (int): Largest glyph box side, px. Defaults to 64.
        max_objects (int): At most this many labeled glyphs per image (at
            least 3). Defaults to 8.
        seed (int): Seed of the generator. Defaults to 0.
        force (bool): Regenerate even if up to date. Defaults to False.

    Returns:
        dict: The parameters and per-split statistics.
    """
    if not 8 <= min_obj <= max_obj <= image_size // 2:
        raise ValueError('need 8 <= min_obj <= max_obj <= image_size // 2, '
                         f'got min_obj={min_obj}, max_obj={max_obj}, '
                         f'image_size={image_size}')
    if max_objects < 3:
        raise ValueError(f'max_objects must be >= 3, got {max_objects}')
    params = dict(format_version=FORMAT_VERSION, num_trainval=num_trainval,
                  num_test=num_test, image_size=image_size, min_obj=min_obj,
                  max_obj=max_obj, max_objects=max_objects, seed=seed,
                  classes=list(GLYPH_CLASSES))
    old = read_manifest(root, MANIFEST, params)
    if old is not None and not force:
        return old
    writer = DetectionDatasetWriter(root, GLYPH_CLASSES,
                                    supercategory='glyph')
    for index, (split, count) in enumerate(
            (('trainval', num_trainval), ('test', num_test))):
        rng = np.random.default_rng([seed, index])
        writer.write_split(
            split, (render_scene(rng, split, image_size, min_obj, max_obj,
                                 max_objects) for _ in range(count)))
    return writer.finish(MANIFEST, params, photos=PHOTOS, fonts=FONTS)
