# Copyright (c) mmbnn contributors. All rights reserved.
"""Image classification datasets in their published layouts.

- :class:`ImageNetFolder`: ILSVRC-2012 as distributed, ``train/<wnid>/
  *.JPEG`` and ``val/*.JPEG`` with a label file (``val.txt``: ``<file>
  <class index>`` per line; the class index is the position of the wnid in
  the sorted list of ``train/`` folders, the torchvision / mmpretrain
  convention).
- :class:`CIFAR10` / :class:`CIFAR100`: the python-pickle layout of
  ``cifar-10-batches-py`` (``data_batch_1..5``, ``test_batch``,
  ``batches.meta``) and ``cifar-100-python`` (``train``, ``test``,
  ``meta``). mmbnn's GlyphCls benchmark is written in CIFAR-10's layout and
  read by :class:`CIFAR10`.

Images are handed to the pipeline as BGR ``uint8`` arrays (``img``), as
mmcv's ``LoadImageFromFile`` gives them, with ``gt_label``.
"""
import os
import os.path as osp
import pickle
from typing import Dict, List, Sequence

import numpy as np
from mmdet.registry import DATASETS
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

IMAGE_EXTENSIONS = ('.jpeg', '.jpg', '.png', '.bmp', '.ppm', '.webp')


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


@DATASETS.register_module('ImageNet')
class ImageNetFolder(BaseDataset):
    """ImageNet's folder layout (or any ``<class>/<image>`` tree).

    Args:
        data_root (str): The dataset root.
        split (str): ``'train'`` (``train/<class>/*``) or ``'val'``
            (``val/*`` listed in ``ann_file``).
        ann_file (str): For ``'val'``: the label file relative to
            ``data_root``. Defaults to ``'val.txt'``.
        classes_from (str): The folder whose sorted sub-folders name the
            classes. Defaults to ``'train'``.
        **kwargs: :class:`~mmengine.dataset.BaseDataset` arguments
            (``pipeline``, ``test_mode``, ...).
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: str = 'val.txt',
                 classes_from: str = 'train',
                 **kwargs) -> None:
        if split not in ('train', 'val'):
            raise ValueError(f"split={split!r}; allowed values: 'train', "
                             "'val'")
        self.split, self.classes_from = split, classes_from
        super().__init__(data_root=data_root, ann_file=ann_file, **kwargs)

    def _classes(self) -> List[str]:
        folder = osp.join(self.data_root, self.classes_from)
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'{folder}: no such folder (the class folders '
                f'<data_root>/{self.classes_from}/<class>/ name the classes)')
        classes = sorted(
            d for d in os.listdir(folder) if osp.isdir(osp.join(folder, d)))
        if not classes:
            raise FileNotFoundError(f'{folder} holds no class folder')
        return classes

    def load_data_list(self) -> List[Dict]:
        classes = self._classes()
        self._metainfo['classes'] = tuple(classes)
        if self.split == 'train':
            return self._load_folders(classes)
        return self._load_label_file(len(classes))

    def _load_folders(self, classes: Sequence[str]) -> List[Dict]:
        root = osp.join(self.data_root, 'train')
        data = []
        for label, name in enumerate(classes):
            folder = osp.join(root, name)
            files = sorted(f for f in os.listdir(folder) if _is_image(f))
            if not files:
                raise FileNotFoundError(
                    f'{folder}: class folder {name!r} holds no image '
                    f'({", ".join(IMAGE_EXTENSIONS)})')
            data += [dict(img_path=osp.join(folder, f), gt_label=label)
                     for f in files]
        return data

    def _load_label_file(self, num_classes: int) -> List[Dict]:
        path = self.ann_file  # made absolute by BaseDataset
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path}: no such label file (ann_file: lines '
                '"<image file> <class index>")')
        folder = osp.join(self.data_root, 'val')
        data = []
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.split()
                if len(parts) != 2 or not parts[1].isdigit() or \
                        int(parts[1]) >= num_classes:
                    raise ValueError(
                        f'{path}:{number}: expected "<image file> <class '
                        f'index < {num_classes}>", got {line.strip()!r}')
                img_path = osp.join(folder, parts[0])
                if not osp.isfile(img_path):
                    raise FileNotFoundError(f'{path}:{number}: {img_path} '
                                            'does not exist')
                data.append(dict(img_path=img_path, gt_label=int(parts[1])))
        if not data:
            raise ValueError(f'{path}: the val split is empty')
        return data


def _unpickle(path: str) -> dict:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file (CIFAR python '
                                'layout)')
    try:
        with open(path, 'rb') as f:
            return pickle.load(f, encoding='bytes')
    except Exception as error:  # noqa: BLE001 (any unpickling failure)
        raise ValueError(f'{path}: not a CIFAR python pickle ({error})') \
            from error


def _field(batch: dict, key: str, path: str):
    for k in (key, key.encode()):
        if k in batch:
            return batch[k]
    raise ValueError(f'{path}: malformed CIFAR pickle, no {key!r} entry '
                     f'(has {sorted(map(str, batch))})')


@DATASETS.register_module()
class CIFAR10(BaseDataset):
    """CIFAR-10's python-pickle layout under ``data_root``.

    Args:
        data_root (str): The folder holding the batch files
            (``cifar-10-batches-py``).
        split (str): ``'train'`` or ``'test'``.
        **kwargs: :class:`~mmengine.dataset.BaseDataset` arguments.
    """

    train_files: Sequence[str] = tuple(f'data_batch_{i}' for i in range(1, 6))
    test_files: Sequence[str] = ('test_batch', )
    meta_file, meta_key, label_key = 'batches.meta', 'label_names', 'labels'

    def __init__(self, data_root: str, split: str = 'train',
                 **kwargs) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"split={split!r}; allowed values: 'train', "
                             "'test'")
        self.split = split
        super().__init__(data_root=data_root, **kwargs)

    def _files(self) -> List[str]:
        """The batch files of the split: the first ``k`` of its files
        (CIFAR-10 training: ``data_batch_1`` to ``data_batch_k``, so that
        shorter benchmarks such as GlyphCls fit), logged when ``k`` is below
        the full count.

        Raises:
            FileNotFoundError: No batch file, or a gap (a later batch file
                present while an earlier one is missing).
        """
        names = self.train_files if self.split == 'train' else \
            self.test_files
        present = [osp.isfile(osp.join(self.data_root, n)) for n in names]
        count = present.index(False) if False in present else len(names)
        if not count:
            raise FileNotFoundError(
                f'{self.data_root}: no {self.split} batch file '
                f'({", ".join(names)})')
        if any(present[count:]):
            later = [n for n, p in zip(names[count:], present[count:]) if p]
            raise FileNotFoundError(
                f'{self.data_root}: {names[count]} is missing but '
                f'{", ".join(later)} exist; the {self.split} batch files '
                f'must be {names[0]} to {names[-1]} or a first part of them')
        if count < len(names):
            print_log(
                f'{type(self).__name__}: {self.data_root} holds {count} of '
                f'the {len(names)} {self.split} batch files '
                f'({", ".join(names[:count])})',
                logger='current')
        return [osp.join(self.data_root, n) for n in names[:count]]

    def load_data_list(self) -> List[Dict]:
        meta_path = osp.join(self.data_root, self.meta_file)
        names = _field(_unpickle(meta_path), self.meta_key, meta_path)
        classes = tuple(
            n.decode() if isinstance(n, bytes) else str(n) for n in names)
        self._metainfo['classes'] = classes
        data: List[Dict] = []
        for path in self._files():
            batch = _unpickle(path)
            images = np.asarray(_field(batch, 'data', path))
            labels = np.asarray(_field(batch, self.label_key, path))
            if images.ndim != 2 or images.shape[1] % 3 or \
                    len(images) != len(labels):
                raise ValueError(
                    f'{path}: malformed CIFAR pickle: data {images.shape} '
                    f'and {len(labels)} labels (expected (N, 3*H*W) uint8 '
                    'and N labels)')
            side = int(round((images.shape[1] // 3)**0.5))
            if 3 * side * side != images.shape[1]:
                raise ValueError(f'{path}: rows of {images.shape[1]} values '
                                 'are not square RGB images')
            if labels.size and (labels.min() < 0
                                or labels.max() >= len(classes)):
                raise ValueError(
                    f'{path}: labels outside [0, {len(classes)}) of '
                    f'{meta_path}')
            # RGB planes -> HWC BGR, as LoadImageFromFile gives images
            imgs = images.reshape(-1, 3, side, side).transpose(0, 2, 3, 1)
            imgs = np.ascontiguousarray(imgs[..., ::-1], dtype=np.uint8)
            data += [dict(img=img, gt_label=int(label))
                     for img, label in zip(imgs, labels)]
        if not data:
            raise ValueError(f'{self.data_root}: the {self.split} split is '
                             'empty')
        return data


@DATASETS.register_module()
class CIFAR100(CIFAR10):
    """CIFAR-100's python-pickle layout (``cifar-100-python``), fine
    labels."""

    train_files = ('train', )
    test_files = ('test', )
    meta_file, meta_key, label_key = 'meta', 'fine_label_names', \
        'fine_labels'
