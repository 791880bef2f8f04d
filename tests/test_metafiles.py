# Copyright (c) mmbnn contributors. All rights reserved.
"""model-index.yml and the per-method metafiles (mmdet's format) list every
config exactly once, and everything they name exists."""
import glob
import os.path as osp

import yaml

from .conftest import REPO_ROOT


def _load(path):
    with open(osp.join(REPO_ROOT, path)) as f:
        return yaml.safe_load(f)


def _configs():
    paths = glob.glob(osp.join(REPO_ROOT, 'configs/**/*.py'), recursive=True)
    return sorted(
        osp.relpath(p, REPO_ROOT) for p in paths
        if f'{osp.sep}_base_{osp.sep}' not in p)


def test_every_config_is_listed_once_and_every_entry_exists():
    index = _load('model-index.yml')
    listed, names = [], []
    for metafile in index['Import']:
        assert osp.isfile(osp.join(REPO_ROOT, metafile)), metafile
        meta = _load(metafile)
        collections = {c['Name']: c for c in meta['Collections']}
        for collection in collections.values():
            assert osp.isfile(osp.join(REPO_ROOT, collection['README']))
            assert osp.exists(osp.join(REPO_ROOT, collection['Code']['URL']))
            assert collection['Paper']['URL'].startswith('https://')
        for model in meta['Models']:
            assert model['In Collection'] in collections, model['Name']
            assert osp.isfile(osp.join(REPO_ROOT, model['Config']))
            assert model['Metadata']['Training Data']
            for result in model.get('Results', []):
                assert result['Task'] in ('Object Detection',
                                          'Image Classification')
                (value, ) = result['Metrics'].values()
                assert 0 <= value <= 100
            listed.append(model['Config'])
            names.append(model['Name'])
    assert len(set(names)) == len(names)
    assert sorted(listed) == _configs()


def test_method_readmes_name_their_configs():
    for metafile in _load('model-index.yml')['Import']:
        meta = _load(metafile)
        (collection, ) = meta['Collections']
        with open(osp.join(REPO_ROOT, collection['README'])) as f:
            text = f.read()
        assert 'Binarized' in text or 'Nothing is binarized' in text
        assert '## Results' in text and '## Citation' in text
