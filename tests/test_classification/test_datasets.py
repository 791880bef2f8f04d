# Copyright (c) mmbnn contributors. All rights reserved.
"""The classification datasets read tiny generated copies of their real
layouts, refuse broken ones naming the path, and GlyphCls is
deterministic, idempotent and disjoint from GlyphBench's test split."""
import os
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest

from mmbnn.datasets import CIFAR10, CIFAR100, ImageNetFolder
from mmbnn.datasets.glyph_bench import FONTS, PHOTOS, photo_path
from mmbnn.datasets.glyph_cls import (CLS_CLASSES, CLS_FONTS, CLS_PHOTOS,
                                      generate_glyph_cls)
from mmbnn.datasets.transforms import PackClsInputs


def _write_cifar(root, files, label_key, meta_name, meta_key, classes, n=6):
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(0)
    written = {}
    for name in files:
        data = rng.integers(0, 256, (n, 3 * 8 * 8), dtype=np.uint8)
        labels = list(rng.integers(0, len(classes), n))
        with open(osp.join(root, name), 'wb') as f:
            pickle.dump({b'data': data, label_key.encode(): labels}, f)
        written[name] = (data, labels)
    with open(osp.join(root, meta_name), 'wb') as f:
        pickle.dump({meta_key.encode(): [c.encode() for c in classes]}, f)
    return written


def test_cifar10_layout(tmp_path):
    written = _write_cifar(tmp_path, ['data_batch_1', 'data_batch_2',
                                      'test_batch'], 'labels',
                           'batches.meta', 'label_names', list('abc'))
    train = CIFAR10(str(tmp_path), split='train')
    test = CIFAR10(str(tmp_path), split='test')
    assert len(train) == 12 and len(test) == 6
    assert train.metainfo['classes'] == ('a', 'b', 'c')
    data, labels = written['data_batch_2']
    item = train[7]
    rgb = data[1].reshape(3, 8, 8).transpose(1, 2, 0)
    assert np.array_equal(item['img'], rgb[..., ::-1])  # BGR, as cv2 reads
    assert item['gt_label'] == labels[1]


def test_cifar100_layout_uses_fine_labels(tmp_path):
    _write_cifar(tmp_path, ['train', 'test'], 'fine_labels', 'meta',
                 'fine_label_names', [f'c{i}' for i in range(5)])
    ds = CIFAR100(str(tmp_path), split='test')
    assert len(ds) == 6 and len(ds.metainfo['classes']) == 5


def test_cifar_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='batches.meta'):
        CIFAR10(str(tmp_path), split='train')
    _write_cifar(tmp_path, ['test_batch'], 'labels', 'batches.meta',
                 'label_names', list('ab'))
    with pytest.raises(FileNotFoundError, match='no train batch file'):
        CIFAR10(str(tmp_path), split='train')
    _write_cifar(tmp_path, ['data_batch_1', 'data_batch_3'], 'labels',
                 'batches.meta', 'label_names', list('ab'))
    with pytest.raises(FileNotFoundError,
                       match='data_batch_2 is missing but data_batch_3'):
        CIFAR10(str(tmp_path), split='train')
    os.remove(tmp_path / 'data_batch_3')
    assert len(CIFAR10(str(tmp_path), split='train')) == 6  # a first part
    (tmp_path / 'test_batch').write_bytes(b'not a pickle')
    with pytest.raises(ValueError, match='test_batch: not a CIFAR python'):
        CIFAR10(str(tmp_path), split='test')
    with open(tmp_path / 'test_batch', 'wb') as f:
        pickle.dump({b'data': np.zeros((2, 12), np.uint8)}, f)
    with pytest.raises(ValueError, match="test_batch: malformed.*'labels'"):
        CIFAR10(str(tmp_path), split='test')
    with pytest.raises(ValueError, match="split='val'"):
        CIFAR10(str(tmp_path), split='val')


def _write_imagenet(root, classes=('n01', 'n02'), per_class=2):
    for c in classes:
        os.makedirs(osp.join(root, 'train', c))
        for i in range(per_class):
            cv2.imwrite(osp.join(root, 'train', c, f'{c}_{i}.JPEG'),
                        np.full((12, 10, 3), 40 * i, np.uint8))
    os.makedirs(osp.join(root, 'val'))
    lines = []
    for i, _ in enumerate(classes):
        name = f'ILSVRC2012_val_{i:08d}.JPEG'
        cv2.imwrite(osp.join(root, 'val', name),
                    np.zeros((9, 9, 3), np.uint8))
        lines.append(f'{name} {i}')
    (root / 'val.txt').write_text('\n'.join(lines) + '\n')


def test_imagenet_layout(tmp_path, mmdet_scope):
    _write_imagenet(tmp_path)
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='ResizeShortEdge', size=16),
                dict(type='ClsCenterCrop', size=14),
                dict(type='PackClsInputs')]
    train = ImageNetFolder(str(tmp_path), split='train', pipeline=pipeline)
    val = ImageNetFolder(str(tmp_path), split='val', pipeline=pipeline)
    assert len(train) == 4 and len(val) == 2
    assert train.metainfo['classes'] == ('n01', 'n02')
    assert [train.get_data_info(i)['gt_label']
            for i in range(4)] == [0, 0, 1, 1]
    item = val[1]
    assert item['inputs'].shape == (3, 14, 14)
    assert int(item['data_samples'].gt_label) == 1


def test_imagenet_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='train: no such folder'):
        ImageNetFolder(str(tmp_path), split='train')
    _write_imagenet(tmp_path)
    os.makedirs(tmp_path / 'train' / 'n03')
    with pytest.raises(FileNotFoundError, match="n03: class folder 'n03'"):
        ImageNetFolder(str(tmp_path), split='train')
    os.rmdir(tmp_path / 'train' / 'n03')
    (tmp_path / 'val.txt').write_text('')
    with pytest.raises(ValueError, match='val.txt: the val split is empty'):
        ImageNetFolder(str(tmp_path), split='val')
    (tmp_path / 'val.txt').write_text('x.JPEG 7\n')
    with pytest.raises(ValueError, match='val.txt:1: expected'):
        ImageNetFolder(str(tmp_path), split='val')
    (tmp_path / 'val.txt').write_text('missing.JPEG 1\n')
    with pytest.raises(FileNotFoundError, match='missing.JPEG does not'):
        ImageNetFolder(str(tmp_path), split='val')


def test_pack_cls_inputs():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = PackClsInputs().transform(dict(img=img, gt_label=5,
                                         img_path='a.png'))
    assert out['inputs'].shape == (3, 2, 3)
    assert out['inputs'][1, 1, 2] == img[1, 2, 1]
    assert int(out['data_samples'].gt_label) == 5
    assert out['data_samples'].img_path == 'a.png'


def test_glyph_cls_is_deterministic_idempotent_and_disjoint(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    info = generate_glyph_cls(str(a), num_train=40, num_test=20)
    generate_glyph_cls(str(b), num_train=40, num_test=20)
    for name in ('data_batch_1', 'test_batch', 'batches.meta'):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    stamp = os.stat(a / 'data_batch_1').st_mtime_ns
    assert generate_glyph_cls(str(a), num_train=40, num_test=20) == info
    assert os.stat(a / 'data_batch_1').st_mtime_ns == stamp  # untouched
    # the test split does not depend on the train split's size
    generate_glyph_cls(str(b), num_train=10, num_test=20)
    assert (a / 'test_batch').read_bytes() == (b / 'test_batch').read_bytes()
    ds = CIFAR10(str(a), split='train')
    assert len(ds) == 40 and ds.metainfo['classes'] == CLS_CLASSES
    assert ds[0]['img'].shape == (32, 32, 3)
    assert sum(info['counts']['test']) == 20
    # train and test share no font and no photograph; nothing of
    # GlyphBench's test split is used
    for sources in (CLS_FONTS, CLS_PHOTOS):
        assert not set(sources['train']) & set(sources['test'])
    used_fonts = set(CLS_FONTS['train']) | set(CLS_FONTS['test'])
    used_photos = set(CLS_PHOTOS['train']) | set(CLS_PHOTOS['test'])
    assert not used_fonts & set(FONTS['test'])
    assert not used_photos & set(PHOTOS['test'])
    for name in used_photos:
        assert osp.isfile(photo_path(name)), name
    with pytest.raises(ValueError, match='num_train'):
        generate_glyph_cls(str(tmp_path / 'c'), num_train=0)
    assert not (tmp_path / 'c').exists()
