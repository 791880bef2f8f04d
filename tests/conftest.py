# Copyright (c) mmbnn contributors. All rights reserved.
import os.path as osp

import pytest
from mmengine.config import Config

import mmbnn  # noqa: F401  (registers modules)
from mmbnn.utils import trust_mmengine_checkpoints

# the Runner-based tests resume from MMEngine checkpoints they wrote
trust_mmengine_checkpoints()


def _resolve_external_configs_once() -> None:
    """Resolve each ``package::path`` config reference once per test
    process. MMEngine resolves ``mmdet::...`` anew in every ``Config``
    load: it reloads ``pkg_resources`` and reads all of mmdet's ~500
    metafiles, about 1 s per reference, which made loading a detection
    config cost seconds. The resolved path depends only on the reference
    and the installed package."""
    resolve = Config._get_cfg_path
    resolved = {}

    def get_cfg_path(cfg_path, filename):
        if '::' not in cfg_path:
            return resolve(cfg_path, filename)
        if cfg_path not in resolved:
            resolved[cfg_path] = resolve(cfg_path, filename)
        return resolved[cfg_path]

    Config._get_cfg_path = staticmethod(get_cfg_path)


_resolve_external_configs_once()

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def demo_data_root(tmp_path_factory) -> str:
    """The full demo dataset (``generate_demo_dataset``'s defaults), written
    once per test session and shared read-only."""
    from mmbnn.datasets import generate_demo_dataset
    root = str(tmp_path_factory.mktemp('demo_data'))
    generate_demo_dataset(root)
    return root


@pytest.fixture
def mmdet_scope():
    """Run the test inside mmdet's default scope, as a Runner would."""
    from mmengine.registry import DefaultScope, init_default_scope
    init_default_scope('mmdet')
    yield
    DefaultScope._instance_dict.clear()
