# Copyright (c) mmbnn contributors. All rights reserved.
"""Decide whether mmcv is built with its CUDA ops (``make install``).

CUDA ops are built when the installed torch is a CUDA build
(``torch.version.cuda`` is set) and an ``nvcc`` of the same CUDA major
version is found (``$CUDA_HOME/bin/nvcc``, else ``nvcc`` on ``PATH``, else
``/usr/local/cuda/bin/nvcc``, the order of torch's extension builder).
``TORCH_CUDA_ARCH_LIST`` comes from the environment when set, else from the
compute capabilities of the visible GPUs, else :data:`DEFAULT_ARCH_LIST`.

Usage::

    python tools/misc/detect_cuda.py [--mode auto|1|0] [--shell]
    python tools/misc/detect_cuda.py --installed

``--shell`` prints ``export`` lines for the build (``FORCE_CUDA``,
``TORCH_CUDA_ARCH_LIST``, ``MMCV_REBUILD``, and ``CUDA_HOME`` and ``CPATH``
for a CUDA build: the toolkit that nvcc belongs to, which may differ from
the folder above an ``nvcc`` wrapper script, and the CUDA library headers
of the ``nvidia-*`` wheels when the toolkit lacks them); ``--installed``
prints which ops the installed mmcv has. ``--mode 1`` exits with status 1
when CUDA ops cannot be built.
"""
import argparse
import glob
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

MODES = ('auto', '1', '0')
# Built when no GPU is visible (e.g. on a build host): Turing, Ampere (A100,
# RTX 30), Ada (L4, RTX 40), Hopper (H100) and PTX for newer GPUs. Every
# CUDA from 11.8 to 13.x compiles all of them.
DEFAULT_ARCH_LIST = '7.5;8.0;8.6;8.9;9.0+PTX'


@dataclass
class Probe:
    """What the build machine offers; every field may be faked in tests."""
    torch_cuda: Optional[str]  # torch.version.cuda, None on a CPU build
    nvcc: Optional[str]  # path of the nvcc found, None when none
    nvcc_version: Optional[str]  # e.g. '13.0', None when unknown
    capabilities: List[Tuple[int, int]] = field(default_factory=list)
    env_arch_list: Optional[str] = None  # TORCH_CUDA_ARCH_LIST if set
    cuda_home: Optional[str] = None  # the toolkit nvcc belongs to
    extra_include: Optional[str] = None  # headers the toolkit lacks


@dataclass
class Decision:
    """The build choice and why it was made."""
    cuda: bool
    reason: str
    arch_list: Optional[str] = None
    cuda_home: Optional[str] = None
    extra_include: Optional[str] = None


def parse_nvcc_version(text: str) -> Optional[str]:
    """``'13.0'`` from ``nvcc --version`` output, None when absent."""
    match = re.search(r'release (\d+)\.(\d+)', text)
    return f'{match.group(1)}.{match.group(2)}' if match else None


def find_nvcc(env: Optional[dict] = None) -> Optional[str]:
    """The nvcc that torch's extension builder would use, or None."""
    env = os.environ if env is None else env
    candidates = []
    for key in ('CUDA_HOME', 'CUDA_PATH'):
        if env.get(key):
            candidates.append(osp.join(env[key], 'bin', 'nvcc'))
    on_path = shutil.which('nvcc', path=env.get('PATH'))
    if on_path:
        candidates.append(on_path)
    candidates.append('/usr/local/cuda/bin/nvcc')
    for path in candidates:
        if osp.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def toolkit_root(nvcc: str) -> str:
    """The CUDA toolkit folder of ``nvcc``, as nvcc itself reports it
    (``TOP`` of a dry run), else the folder above its ``bin``."""
    with tempfile.TemporaryDirectory() as tmp:
        src = osp.join(tmp, 'empty.cu')
        open(src, 'w').close()
        try:
            out = subprocess.run(
                [nvcc, '-dryrun', '-c', src, '-o', src + '.o'],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            out = ''
    match = re.search(r'^#\$ TOP=(.+)$', out, re.MULTILINE)
    if match:  # e.g. /usr/local/cuda-13.0/bin/..
        return osp.normpath(match.group(1).strip())
    return osp.dirname(osp.dirname(osp.realpath(nvcc)))


def wheel_headers(cuda_home: str) -> Optional[str]:
    """The include folder of the ``nvidia-*`` wheels (installed with a
    CUDA torch) when ``cuda_home`` lacks the CUDA library headers that
    torch's headers include (``cusparse.h``, ``cublas_v2.h``), else None."""
    if osp.isfile(osp.join(cuda_home, 'include', 'cusparse.h')):
        return None
    try:
        import nvidia
    except ImportError:
        return None
    for root in nvidia.__path__:
        hits = sorted(glob.glob(osp.join(root, '*', 'include', 'cusparse.h')))
        if hits:
            return osp.dirname(hits[0])
    return None


def arch_list_from(capabilities: Sequence[Tuple[int, int]]) -> str:
    """``TORCH_CUDA_ARCH_LIST`` for these GPUs, e.g. ``'8.6;9.0'``."""
    return ';'.join(f'{major}.{minor}'
                    for major, minor in sorted(set(capabilities)))


def _major(version: str) -> str:
    return version.split('.')[0]


def decide(mode: str, probe: Probe) -> Decision:
    """Whether to build CUDA ops, for ``mode`` (one of :data:`MODES`).

    Raises:
        ValueError: ``mode`` is not one of :data:`MODES`.
    """
    if mode not in MODES:
        raise ValueError(f'MMCV_CUDA={mode!r} is not allowed; allowed '
                         f'values: {", ".join(MODES)}')
    if mode == '0':
        return Decision(False, 'MMCV_CUDA=0')
    if probe.torch_cuda is None:
        problem = 'torch is a CPU build (torch.version.cuda is None)'
    elif probe.nvcc is None:
        problem = ('no nvcc found (CUDA_HOME, PATH, /usr/local/cuda); '
                   'install the CUDA toolkit')
    elif probe.nvcc_version is None:
        problem = f'{probe.nvcc} --version names no CUDA release'
    elif _major(probe.nvcc_version) != _major(probe.torch_cuda):
        problem = (f'nvcc is CUDA {probe.nvcc_version} but torch is built '
                   f'with CUDA {probe.torch_cuda} (the major versions must '
                   'match)')
    else:
        problem = None
    if problem is not None:
        return Decision(False, problem)
    if probe.env_arch_list:
        arch, source = probe.env_arch_list, 'TORCH_CUDA_ARCH_LIST'
    elif probe.capabilities:
        arch, source = arch_list_from(probe.capabilities), 'visible GPUs'
    else:
        arch, source = DEFAULT_ARCH_LIST, 'no GPU visible: default list'
    return Decision(
        True, f'torch CUDA {probe.torch_cuda}, nvcc CUDA '
        f'{probe.nvcc_version} ({probe.nvcc}); arch {arch} ({source})', arch,
        probe.cuda_home, probe.extra_include)


def probe_machine() -> Probe:
    """Inspect the installed torch, nvcc and GPUs."""
    import torch
    nvcc = find_nvcc()
    nvcc_version = cuda_home = extra_include = None
    if nvcc is not None:
        cuda_home = (os.environ.get('CUDA_HOME')
                     or os.environ.get('CUDA_PATH') or toolkit_root(nvcc))
        extra_include = wheel_headers(cuda_home)
        try:
            out = subprocess.run([nvcc, '--version'],
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT,
                                 text=True,
                                 timeout=60).stdout
            nvcc_version = parse_nvcc_version(out)
        except (OSError, subprocess.SubprocessError):
            pass
    capabilities = []
    if torch.version.cuda is not None and torch.cuda.is_available():
        capabilities = [
            torch.cuda.get_device_capability(i)
            for i in range(torch.cuda.device_count())
        ]
    return Probe(torch.version.cuda, nvcc, nvcc_version, capabilities,
                 os.environ.get('TORCH_CUDA_ARCH_LIST') or None, cuda_home,
                 extra_include)


def installed_mmcv_ops() -> Optional[str]:
    """The CUDA version the installed mmcv's ops were compiled with,
    ``'cpu'`` for CPU-only ops, ``'fallback'`` for the torchvision stand-in
    of ``tools/gpu_check.sh --mmcv-ops-fallback``, None when mmcv or its ops
    do not import."""
    try:
        from mmcv import _ext
        from mmcv.ops import get_compiling_cuda_version
        if getattr(_ext, 'FALLBACK', False):
            return 'fallback'
        version = get_compiling_cuda_version()
    except Exception:  # no mmcv, no compiled ops, or a broken build
        return None
    return 'cpu' if version == 'not available' else version


def shell_lines(decision: Decision, installed: Optional[str]) -> List[str]:
    """``export`` lines for the mmcv build. ``MMCV_REBUILD=1`` when the
    installed mmcv (``installed``, as from :func:`installed_mmcv_ops`) is
    not the build decided on and has to be removed first."""
    has_cuda = installed not in (None, 'cpu', 'fallback')
    rebuild = installed is not None and has_cuda != decision.cuda
    lines = [f'export FORCE_CUDA={int(decision.cuda)}']
    if decision.cuda:
        lines.append('export TORCH_CUDA_ARCH_LIST='
                     f'{shlex.quote(decision.arch_list)}')
        if decision.cuda_home:
            lines.append(
                f'export CUDA_HOME={shlex.quote(decision.cuda_home)}')
        if decision.extra_include:
            lines.append(f'export CPATH={shlex.quote(decision.extra_include)}'
                         '${CPATH:+:$CPATH}')
    lines.append(f'export MMCV_REBUILD={int(rebuild)}')
    return lines


def describe_installed(installed: Optional[str]) -> str:
    """One line on the installed mmcv's ops."""
    if installed is None:
        return 'mmcv ops: not importable'
    if installed == 'cpu':
        return 'mmcv ops: CPU only (compiled without CUDA)'
    if installed == 'fallback':
        return ('mmcv ops: the torchvision fallback of '
                'tools/gpu/mmcv_ext_fallback.py (not compiled mmcv ops)')
    return f'mmcv ops: CUDA kernels (compiled with CUDA {installed})'


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--mode',
        default='auto',
        help='auto: CUDA ops when usable; 1: CUDA ops or fail; 0: CPU ops '
        '(allowed: auto, 1, 0)')
    parser.add_argument(
        '--shell', action='store_true', help='print export lines')
    parser.add_argument(
        '--installed',
        action='store_true',
        help='print which ops the installed mmcv has')
    args = parser.parse_args(argv)
    if args.installed:
        print(describe_installed(installed_mmcv_ops()))
        return 0
    try:
        decision = decide(args.mode, probe_machine())
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    kind = 'CUDA' if decision.cuda else 'CPU'
    print(f'mmcv ops: {kind} ({decision.reason})', file=sys.stderr)
    if args.mode == '1' and not decision.cuda:
        print('MMCV_CUDA=1 but CUDA ops cannot be built', file=sys.stderr)
        return 1
    if args.shell:
        print('\n'.join(shell_lines(decision, installed_mmcv_ops())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
