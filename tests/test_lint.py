# Copyright (c) mmbnn contributors. All rights reserved.
"""The code base passes flake8 with the settings of setup.cfg (79 columns,
pyflakes, pycodestyle), as the pre-commit hooks check it."""
import importlib.util
import os.path as osp
import shutil
import subprocess
import sys

from .conftest import REPO_ROOT

# Everything with Python in it. The configs parse as Python too (mmengine's
# ``{{_base_.x}}`` reads as a set literal); setup.cfg waives the
# undefined/star-import codes for them.
PATHS = ('mmbnn', 'tools', 'tests', 'configs', 'setup.py')


def flake8(*args, cwd=REPO_ROOT):
    assert importlib.util.find_spec('flake8') is not None, (
        'flake8 is not installed: pip install -r requirements/tests.txt')
    return subprocess.run([sys.executable, '-m', 'flake8', *args],
                          cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)


def test_flake8_finds_nothing():
    proc = flake8(*PATHS)
    assert proc.returncode == 0 and not proc.stdout, (
        f'flake8 findings:\n{proc.stdout}')


def test_flake8_applies_the_repository_settings(tmp_path):
    """The same config-like file: findings outside ``configs/``, only the
    line length inside it."""
    shutil.copy(osp.join(REPO_ROOT, 'setup.cfg'), tmp_path)
    text = ('from mmdet.configs import *\n'
            "_base_ = ['base.py']\n"
            'model = {{_base_.model}}\n'
            'x = 1  # ' + 'a' * 71 + '\n')
    (tmp_path / 'configs').mkdir()
    (tmp_path / 'configs' / 'cfg.py').write_text(text)
    (tmp_path / 'other.py').write_text(text)
    proc = flake8('configs', 'other.py', cwd=str(tmp_path))
    assert proc.returncode == 1
    findings = sorted(line.split(' ')[0] + ' ' + line.split(' ')[1]
                      for line in proc.stdout.splitlines())
    assert findings == [
        'configs/cfg.py:4:80: E501', 'other.py:1:1: F401',
        'other.py:1:1: F403', 'other.py:4:80: E501'
    ], proc.stdout
