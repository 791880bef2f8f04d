# Copyright (c) mmbnn contributors. All rights reserved.
"""tools/misc/detect_cuda.py, the CUDA-or-CPU choice of ``make install``'s
mmcv build, on faked machines (torch build, nvcc, GPUs)."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools/misc/detect_cuda.py')


@pytest.fixture(scope='module')
def dc():
    spec = importlib.util.spec_from_file_location('detect_cuda', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def probe(dc, **kwargs):
    fields = dict(
        torch_cuda='13.0',
        nvcc='/opt/cuda/bin/nvcc',
        nvcc_version='13.0',
        capabilities=[],
        env_arch_list=None)
    fields.update(kwargs)
    return dc.Probe(**fields)


def test_parse_nvcc_version(dc):
    text = ('nvcc: NVIDIA (R) Cuda compiler driver\n'
            'Cuda compilation tools, release 12.4, V12.4.131\n')
    assert dc.parse_nvcc_version(text) == '12.4'
    assert dc.parse_nvcc_version('command not found') is None


def test_cuda_build_with_visible_gpus(dc):
    decision = dc.decide(
        'auto', probe(dc, capabilities=[(9, 0), (8, 6), (9, 0)]))
    assert decision.cuda and decision.arch_list == '8.6;9.0'
    assert 'visible GPUs' in decision.reason


def test_default_arch_list_without_gpu(dc):
    decision = dc.decide('1', probe(dc))
    assert decision.cuda and decision.arch_list == dc.DEFAULT_ARCH_LIST
    # nvcc's minor version may differ from torch's
    assert dc.decide('auto', probe(dc, nvcc_version='13.1')).cuda


def test_environment_arch_list_wins(dc):
    decision = dc.decide(
        'auto', probe(dc, capabilities=[(8, 0)], env_arch_list='7.5'))
    assert decision.arch_list == '7.5'


@pytest.mark.parametrize('fake, reason', [
    (dict(torch_cuda=None), 'CPU build'),
    (dict(nvcc=None, nvcc_version=None), 'no nvcc'),
    (dict(nvcc_version=None), 'names no CUDA release'),
    (dict(nvcc_version='12.8'), 'major versions must match'),
])
def test_cpu_build_when_cuda_is_unusable(dc, fake, reason):
    decision = dc.decide('auto', probe(dc, **fake))
    assert not decision.cuda and decision.arch_list is None
    assert reason in decision.reason


def test_mode_zero_and_bad_mode(dc):
    assert not dc.decide('0', probe(dc, capabilities=[(9, 0)])).cuda
    with pytest.raises(ValueError, match="MMCV_CUDA='yes'.*auto, 1, 0"):
        dc.decide('yes', probe(dc))


@pytest.mark.parametrize('cuda, installed, rebuild', [
    (True, None, 0),  # nothing installed
    (True, 'cpu', 1),  # a CPU mmcv (e.g. from a wheel cache) is replaced
    (True, 'fallback', 1),
    (True, '13.0', 0),
    (False, '13.0', 1),
    (False, 'cpu', 0),
])
def test_shell_lines(dc, cuda, installed, rebuild):
    decision = dc.decide('auto',
                         probe(dc, torch_cuda='13.0' if cuda else None))
    lines = dc.shell_lines(decision, installed)
    assert lines[0] == f'export FORCE_CUDA={int(cuda)}'
    assert lines[-1] == f'export MMCV_REBUILD={rebuild}'
    arch = [line for line in lines if 'TORCH_CUDA_ARCH_LIST' in line]
    assert arch == ([
        f"export TORCH_CUDA_ARCH_LIST='{dc.DEFAULT_ARCH_LIST}'"
    ] if cuda else [])


def test_shell_lines_name_the_toolkit_and_headers(dc):
    decision = dc.decide(
        'auto',
        probe(dc, cuda_home='/opt/cuda 13', extra_include='/site/nvidia/inc'))
    lines = dc.shell_lines(decision, None)
    assert "export CUDA_HOME='/opt/cuda 13'" in lines
    assert 'export CPATH=/site/nvidia/inc${CPATH:+:$CPATH}' in lines
    cpu = dc.shell_lines(dc.decide('0', probe(dc, cuda_home='/opt/c')), None)
    assert not [line for line in cpu if 'CUDA_HOME' in line]


def test_toolkit_root_from_nvcc_dry_run(dc, tmp_path):
    wrapper = tmp_path / 'nvcc'  # a wrapper outside the toolkit
    wrapper.write_text('#!/bin/sh\necho "#\\$ _NVVM_BRANCH_=nvvm"\n'
                       'echo "#\\$ TOP=/opt/cuda-13.0/bin/.."\n')
    wrapper.chmod(0o755)
    assert dc.toolkit_root(str(wrapper)) == '/opt/cuda-13.0'
    silent = tmp_path / 'bin' / 'nvcc'
    silent.parent.mkdir()
    silent.write_text('#!/bin/sh\nexit 1\n')
    silent.chmod(0o755)
    assert dc.toolkit_root(str(silent)) == str(tmp_path)


def test_wheel_headers_only_when_the_toolkit_lacks_them(dc, tmp_path):
    (tmp_path / 'include').mkdir()
    (tmp_path / 'include' / 'cusparse.h').write_text('')
    assert dc.wheel_headers(str(tmp_path)) is None


def test_describe_installed(dc):
    """Only CUDA ops start with the words tools/gpu_check.sh and
    tools/build_mmcv_cuda.sh look for."""
    cuda = dc.describe_installed('12.1')
    assert cuda == 'mmcv ops: CUDA kernels (compiled with CUDA 12.1)'
    for other in ('cpu', 'fallback', None):
        assert not dc.describe_installed(other).startswith(
            'mmcv ops: CUDA kernels')
    assert 'CPU only' in dc.describe_installed('cpu')
    assert 'fallback' in dc.describe_installed('fallback')
    assert 'not importable' in dc.describe_installed(None)


def test_installed_mmcv_ops_here(dc):
    """This machine's mmcv (tests run with mmcv's ops installed)."""
    import torch
    from mmcv.ops import get_compiling_cuda_version
    installed = dc.installed_mmcv_ops()
    compiled = get_compiling_cuda_version()
    assert installed == ('cpu' if compiled == 'not available' else compiled)
    if torch.version.cuda is None:
        assert installed == 'cpu'


def _fake_nvcc(tmp_path, release):
    bin_dir = tmp_path / 'cuda' / 'bin'
    bin_dir.mkdir(parents=True)
    nvcc = bin_dir / 'nvcc'
    nvcc.write_text('#!/bin/sh\necho "Cuda compilation tools, release '
                    f'{release}, V{release}.1"\n')
    nvcc.chmod(0o755)
    return nvcc


def test_find_nvcc_prefers_cuda_home(dc, tmp_path):
    nvcc = _fake_nvcc(tmp_path, '12.1')
    env = {'CUDA_HOME': str(tmp_path / 'cuda'), 'PATH': '/nonexistent'}
    assert dc.find_nvcc(env) == str(nvcc)
    env = {'PATH': str(nvcc.parent)}
    assert dc.find_nvcc(env) == str(nvcc)


def test_cli_on_this_machine(tmp_path):
    """The script run as ``make install`` runs it, with a fake nvcc of a
    CUDA major no torch build has: always the CPU build, whatever torch is
    installed; ``--mode 1`` then fails and names the reason."""
    _fake_nvcc(tmp_path, '99.0')
    env = dict(
        os.environ, CUDA_HOME=str(tmp_path / 'cuda'), OMP_NUM_THREADS='1')

    def run(*args):
        return subprocess.run([sys.executable, SCRIPT, *args],
                              env=env,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              text=True,
                              timeout=300)

    proc = run('--mode', 'auto', '--shell')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == 'export FORCE_CUDA=0'
    assert 'mmcv ops: CPU' in proc.stderr
    proc = run('--mode', '1')
    assert proc.returncode == 1
    assert 'CUDA ops cannot be built' in proc.stderr
    proc = run('--mode', 'on')
    assert proc.returncode == 2 and 'allowed values: auto, 1, 0' in (
        proc.stderr)


def test_installed_mmcv_ops_sees_the_fallback(dc, monkeypatch):
    import types

    import mmcv
    import mmcv.ops  # noqa: F401
    fake = types.ModuleType('mmcv._ext')
    fake.FALLBACK = True
    monkeypatch.setattr(mmcv, '_ext', fake, raising=False)
    monkeypatch.setitem(sys.modules, 'mmcv._ext', fake)
    assert dc.installed_mmcv_ops() == 'fallback'
