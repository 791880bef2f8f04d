# Copyright (c) mmbnn contributors. All rights reserved.
import json
import os
import os.path as osp
from xml.etree import ElementTree as ET

import cv2
import numpy as np
import pytest

from mmbnn.datasets import GLYPH_CLASSES, generate_glyph_bench
from mmbnn.datasets.glyph_bench import (DISTRACTOR_GLYPHS, FONTS, PHOTOS,
                                        SPLITS, font_path, photo_path,
                                        render_glyph)

from .test_demo_dataset import (check_loaders_agree, check_metrics_read_it,
                                digest)

SMALL = dict(num_trainval=6, num_test=4, image_size=128, min_obj=16,
             max_obj=48, max_objects=5)


@pytest.fixture(scope='module')
def bench_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('glyph_bench'))
    generate_glyph_bench(root, **SMALL)
    return root


def _boxes(root, img_id):
    ann = ET.parse(osp.join(root, 'VOCdevkit/VOC2007/Annotations',
                            f'{img_id}.xml')).getroot()
    return [(o.find('name').text,
             [int(o.find('bndbox').find(t).text)
              for t in ('xmin', 'ymin', 'xmax', 'ymax')])
            for o in ann.iter('object')]


def test_sources_ship_with_packages_and_are_disjoint():
    for split in SPLITS:
        for name in PHOTOS[split]:
            assert osp.isfile(photo_path(name)), name
        for font in FONTS[split]:
            assert osp.isfile(font_path(font)), font
    assert not set(PHOTOS['trainval']) & set(PHOTOS['test'])
    assert not set(FONTS['trainval']) & set(FONTS['test'])
    assert not set(GLYPH_CLASSES) & set(DISTRACTOR_GLYPHS)


@pytest.mark.parametrize('font', FONTS['trainval'] + FONTS['test'])
def test_every_font_renders_distinct_tight_glyphs(font):
    masks = {c: render_glyph(c, font, 40, 0.0) for c in GLYPH_CLASSES}
    for char, mask in masks.items():
        assert max(mask.shape) == 40
        # cropped to the ink: every border row/column holds ink
        for edge in (mask[0], mask[-1], mask[:, 0], mask[:, -1]):
            assert edge.max() > 0.2, (font, char)
    # the look-alike pairs differ (no .notdef boxes, no missing glyphs)
    for a, b in (('C', 'G'), ('O', 'Q'), ('E', 'F'), ('P', 'R')):
        ma, mb = masks[a], masks[b]
        h, w = min(ma.shape[0], mb.shape[0]), min(ma.shape[1], mb.shape[1])
        assert np.abs(ma[:h, :w] - mb[:h, :w]).mean() > 0.02, (font, a, b)


def test_layout_boxes_and_determinism(bench_root, tmp_path):
    voc = osp.join(bench_root, 'VOCdevkit', 'VOC2007')
    with open(osp.join(voc, 'ImageSets/Main/trainval.txt')) as f:
        train_ids = f.read().split()
    with open(osp.join(voc, 'ImageSets/Main/test.txt')) as f:
        test_ids = f.read().split()
    assert train_ids == [f'{i:06d}' for i in range(1, 7)]
    assert test_ids == [f'{i:06d}' for i in range(7, 11)]
    size = SMALL['image_size']
    for img_id in train_ids + test_ids:
        img = cv2.imread(osp.join(voc, 'JPEGImages', f'{img_id}.jpg'))
        assert img.shape == (size, size, 3)
        boxes = _boxes(bench_root, img_id)
        assert 1 <= len(boxes) <= SMALL['max_objects']
        for name, (x1, y1, x2, y2) in boxes:
            assert name in GLYPH_CLASSES
            assert 1 <= x1 < x2 <= size and 1 <= y1 < y2 <= size
            longer = max(x2 - x1 + 1, y2 - y1 + 1)
            assert SMALL['min_obj'] - 1 <= longer <= SMALL['max_obj'] + 1
    other = str(tmp_path / 'again')
    generate_glyph_bench(other, **SMALL)
    assert digest(other) == digest(bench_root)
    generate_glyph_bench(str(tmp_path / 'seed1'), **dict(SMALL, seed=1))
    assert digest(str(tmp_path / 'seed1')) != digest(bench_root)


def test_test_split_does_not_depend_on_train_size(bench_root, tmp_path):
    bigger = str(tmp_path / 'bigger')
    generate_glyph_bench(bigger, **dict(SMALL, num_trainval=8))
    for i in range(SMALL['num_test']):
        a = cv2.imread(osp.join(bench_root, 'VOCdevkit/VOC2007/JPEGImages',
                                f'{7 + i:06d}.jpg'))
        b = cv2.imread(osp.join(bigger, 'VOCdevkit/VOC2007/JPEGImages',
                                f'{9 + i:06d}.jpg'))
        np.testing.assert_array_equal(a, b)


def test_idempotent_and_manifest(bench_root):
    jpg = osp.join(bench_root, 'VOCdevkit/VOC2007/JPEGImages/000001.jpg')
    before = os.stat(jpg).st_mtime_ns
    info = generate_glyph_bench(bench_root, **SMALL)
    assert os.stat(jpg).st_mtime_ns == before
    with open(osp.join(bench_root, 'glyph_bench.json')) as f:
        manifest = json.load(f)
    assert manifest == json.loads(json.dumps(info))
    assert manifest['stats']['trainval']['images'] == SMALL['num_trainval']
    assert manifest['photos']['test'] == list(PHOTOS['test'])


@pytest.mark.parametrize('kwargs, key', [
    (dict(image_size=64, min_obj=16, max_obj=48), 'max_obj'),
    (dict(min_obj=4), 'min_obj'),
    (dict(max_objects=2), 'max_objects'),
])
def test_bad_parameters_are_rejected(tmp_path, kwargs, key):
    with pytest.raises(ValueError, match=key):
        generate_glyph_bench(str(tmp_path), **kwargs)
    assert not osp.exists(osp.join(tmp_path, 'glyph_bench.json'))


def test_mmdet_loaders_and_metrics_read_it(bench_root, mmdet_scope):
    check_loaders_agree(bench_root, 'test', SMALL['num_test'], GLYPH_CLASSES)
    check_metrics_read_it(bench_root, 'test', GLYPH_CLASSES)
