# Copyright (c) mmbnn contributors. All rights reserved.
import hashlib
import os
import os.path as osp

import numpy as np
import pytest
import torch

from mmbnn.datasets import DEMO_CLASSES, generate_demo_dataset

SMALL = dict(num_trainval=6, num_test=4, image_size=96, min_obj=16,
             max_obj=40)


def digest(root):
    """SHA-256 over every file name and content under ``root``."""
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(osp.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    generate_demo_dataset(root, **SMALL)
    return root


def test_layout_and_determinism(demo_root, tmp_path):
    voc = osp.join(demo_root, 'VOCdevkit', 'VOC2007')
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        assert osp.isdir(osp.join(voc, sub))
    with open(osp.join(voc, 'ImageSets/Main/trainval.txt')) as f:
        assert f.read().split() == [f'{i:06d}' for i in range(1, 7)]
    other = str(tmp_path / 'again')
    generate_demo_dataset(other, **SMALL)
    assert digest(other) == digest(demo_root)
    generate_demo_dataset(str(tmp_path / 'seed1'), seed=1, **SMALL)
    assert digest(str(tmp_path / 'seed1')) != digest(demo_root)


def test_idempotent(demo_root):
    jpg = osp.join(demo_root, 'VOCdevkit/VOC2007/JPEGImages/000001.jpg')
    before = os.stat(jpg).st_mtime_ns
    generate_demo_dataset(demo_root, **SMALL)
    assert os.stat(jpg).st_mtime_ns == before


def test_bad_sizes_are_rejected(tmp_path):
    with pytest.raises(ValueError, match='min_obj'):
        generate_demo_dataset(str(tmp_path), image_size=32, min_obj=8,
                              max_obj=40)


PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape'))
]


def voc_dataset(root, split, classes=DEMO_CLASSES):
    """mmdet's VOCDataset over a generated dataset."""
    from mmdet.datasets import VOCDataset
    return VOCDataset(
        data_root=osp.join(root, 'VOCdevkit'),
        ann_file=f'VOC2007/ImageSets/Main/{split}.txt',
        data_prefix=dict(sub_data_root='VOC2007/'),
        metainfo=dict(classes=classes), test_mode=True,
        pipeline=PIPELINE)


def coco_dataset(root, split, classes=DEMO_CLASSES):
    """mmdet's CocoDataset over a generated dataset."""
    from mmdet.datasets import CocoDataset
    return CocoDataset(
        data_root=root, ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img='VOCdevkit/'),
        metainfo=dict(classes=classes), test_mode=True,
        pipeline=PIPELINE)


def check_loaders_agree(root, split, num_images, classes=DEMO_CLASSES):
    """VOC XML and COCO JSON hold the same images, boxes and labels."""
    voc = voc_dataset(root, split, classes)
    coco = coco_dataset(root, split, classes)
    assert len(voc) == len(coco) == num_images
    assert voc.metainfo['dataset_type'] == 'VOC2007'
    for i in range(len(voc)):
        a, b = voc.get_data_info(i), coco.get_data_info(i)
        assert osp.samefile(a['img_path'], b['img_path'])
        assert len(a['instances']) >= 1
        # VOC XML holds 1-based inclusive corners (mmdet subtracts 1 from
        # each); COCO holds [x, y, w, h] of the same pixel-edge box.
        boxes_voc = np.array([x['bbox'] for x in a['instances']])
        boxes_coco = np.array([x['bbox'] for x in b['instances']])
        np.testing.assert_array_equal(boxes_voc, boxes_coco - [0, 0, 1, 1])
        assert [x['bbox_label'] for x in a['instances']] == \
            [x['bbox_label'] for x in b['instances']]


def test_voc_and_coco_loaders_agree(demo_root, mmdet_scope):
    check_loaders_agree(demo_root, 'test', SMALL['num_test'])


def evaluate_ground_truth_as_prediction(dataset, metric) -> dict:
    """Feed every image's ground truth as its prediction (score 1)."""
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        sample.pred_instances = sample.gt_instances.clone()
        sample.pred_instances.scores = torch.ones(len(sample.gt_instances))
        metric.process({}, [sample.to_dict()])
    return metric.evaluate(len(dataset))


def check_metrics_read_it(root, split, classes=DEMO_CLASSES):
    """mmdet's VOCMetric and CocoMetric give 1.0 to the ground truth."""
    from mmdet.evaluation import CocoMetric, VOCMetric
    voc = evaluate_ground_truth_as_prediction(
        voc_dataset(root, split, classes),
        VOCMetric(metric='mAP', eval_mode='11points'))
    assert voc['pascal_voc/mAP'] == pytest.approx(1.0)
    coco = evaluate_ground_truth_as_prediction(
        coco_dataset(root, split, classes),
        CocoMetric(
            ann_file=osp.join(root, f'annotations/instances_{split}.json'),
            metric='bbox'))
    assert coco['coco/bbox_mAP'] == pytest.approx(1.0)


def test_mmdet_metrics_read_it(demo_root, mmdet_scope):
    check_metrics_read_it(demo_root, 'test')
