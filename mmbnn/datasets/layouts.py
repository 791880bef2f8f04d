# Copyright (c) mmbnn contributors. All rights reserved.
"""Writers for generated detection datasets in the real PASCAL VOC and COCO
layouts, so mmdet's own ``VOCDataset``/``CocoDataset`` and
``VOCMetric``/``CocoMetric`` read them unchanged.

Layout written under ``root``::

    VOCdevkit/VOC2007/Annotations/<id>.xml
    VOCdevkit/VOC2007/JPEGImages/<id>.jpg
    VOCdevkit/VOC2007/ImageSets/Main/<split>.txt
    annotations/instances_<split>.json   (COCO, the same images and boxes)
    <manifest>.json                      (parameters; idempotence)

Boxes are given as pixel-edge ``[x1, y1, x2, y2]`` (``x2``/``y2``
exclusive): VOC XML stores them 1-based and inclusive, COCO as
``[x, y, w, h]``.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple
from xml.etree import ElementTree as ET

import cv2
import numpy as np

Objects = List[Tuple[int, List[int]]]


def read_manifest(root: str, name: str, params: dict) -> Optional[Dict]:
    """Return the manifest ``root/name`` if it records ``params``, else
    ``None`` (the dataset must be (re)generated)."""
    path = osp.join(root, name)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        old = json.load(f)
    return old if old.get('params') == params else None


def _voc_xml(file_name: str, width: int, height: int, objects: Objects,
             classes: Sequence[str]) -> ET.ElementTree:
    ann = ET.Element('annotation')
    ET.SubElement(ann, 'folder').text = 'VOC2007'
    ET.SubElement(ann, 'filename').text = file_name
    sz = ET.SubElement(ann, 'size')
    for tag, val in (('width', width), ('height', height), ('depth', 3)):
        ET.SubElement(sz, tag).text = str(val)
    ET.SubElement(ann, 'segmented').text = '0'
    for label, (x1, y1, x2, y2) in objects:
        obj = ET.SubElement(ann, 'object')
        ET.SubElement(obj, 'name').text = classes[label]
        ET.SubElement(obj, 'pose').text = 'Unspecified'
        ET.SubElement(obj, 'truncated').text = '0'
        ET.SubElement(obj, 'difficult').text = '0'
        bb = ET.SubElement(obj, 'bndbox')
        # VOC boxes are 1-based and inclusive
        for tag, val in (('xmin', x1 + 1), ('ymin', y1 + 1), ('xmax', x2),
                         ('ymax', y2)):
            ET.SubElement(bb, tag).text = str(val)
    tree = ET.ElementTree(ann)
    ET.indent(tree)
    return tree


class DetectionDatasetWriter:
    """Write images and boxes split by split into the VOC and COCO layouts.

    Args:
        root (str): Output folder.
        classes (Sequence[str]): Class names; labels index into them.
        supercategory (str): COCO supercategory of every class.
    """

    def __init__(self, root: str, classes: Sequence[str],
                 supercategory: str = 'object') -> None:
        self.root = root
        self.classes = tuple(classes)
        self.supercategory = supercategory
        self.voc = osp.join(root, 'VOCdevkit', 'VOC2007')
        for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
            os.makedirs(osp.join(self.voc, sub), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        self._index = 0
        self.stats: Dict[str, Dict[str, int]] = {}

    def write_split(self, split: str, samples) -> None:
        """Write one split.

        Args:
            split (str): Split name (``trainval``, ``test``, ...).
            samples (Iterable[tuple]): ``(uint8 BGR image, objects)`` pairs,
                ``objects`` a list of ``(label, [x1, y1, x2, y2])``.
        """
        ids, images, annotations = [], [], []
        for img, objects in samples:
            self._index += 1
            index = self._index
            img_id = f'{index:06d}'
            height, width = img.shape[:2]
            file_name = f'{img_id}.jpg'
            cv2.imwrite(osp.join(self.voc, 'JPEGImages', file_name), img,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            _voc_xml(file_name, width, height, objects, self.classes).write(
                osp.join(self.voc, 'Annotations', f'{img_id}.xml'))
            ids.append(img_id)
            images.append(dict(id=index,
                               file_name=f'VOC2007/JPEGImages/{file_name}',
                               width=width, height=height))
            for label, (x1, y1, x2, y2) in objects:
                annotations.append(
                    dict(id=len(annotations) + 1, image_id=index,
                         category_id=label + 1,
                         bbox=[x1, y1, x2 - x1, y2 - y1],
                         area=(x2 - x1) * (y2 - y1), iscrowd=0))
        with open(osp.join(self.voc, 'ImageSets', 'Main', f'{split}.txt'),
                  'w') as f:
            f.write('\n'.join(ids) + '\n')
        coco = dict(
            images=images, annotations=annotations,
            categories=[dict(id=i + 1, name=n,
                             supercategory=self.supercategory)
                        for i, n in enumerate(self.classes)])
        with open(osp.join(self.root, 'annotations',
                           f'instances_{split}.json'), 'w') as f:
            json.dump(coco, f)
        self.stats[split] = dict(images=len(ids), objects=len(annotations))

    def finish(self, manifest: str, params: dict, **extra) -> Dict:
        """Write the manifest last, so an interrupted run is regenerated."""
        result = dict(params=params, stats=self.stats, **extra)
        with open(osp.join(self.root, manifest), 'w') as f:
            json.dump(result, f, indent=2)
        return result


def box_iou(a: Sequence[int], b: Sequence[int]) -> float:
    """IoU of two pixel-edge boxes ``[x1, y1, x2, y2]``."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    return inter / float(area_a + area_b - inter)


def uint8_image(img: np.ndarray) -> np.ndarray:
    """Clip a float image to [0, 255] and convert it to uint8."""
    return np.clip(img, 0, 255).astype(np.uint8)
