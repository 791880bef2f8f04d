# Copyright (c) mmbnn contributors. All rights reserved.
import glob
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

try:
    from torch.utils.cpp_extension import BuildExtension, CppExtension
except ImportError as error:  # pragma: no cover - torch is a build dep
    raise RuntimeError(
        'building mmbnn needs torch installed first (its C++ extension '
        'mmbnn.ops._xnor_ext compiles against it); install '
        'requirements/build.txt, then `pip install --no-build-isolation '
        '--no-deps -e .` (see the Makefile)') from error

XNOR_SRC = os.path.join('mmbnn', 'ops', 'csrc', 'xnor')


def read_version() -> str:
    scope: dict = {}
    with open('mmbnn/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


def xnor_extension() -> CppExtension:
    """The packed XNOR-popcount conv kernel (``mmbnn.ops._xnor_ext``).

    The baseline build is portable: only the AVX2 / AVX-512 functions carry
    ``target`` attributes and are chosen at run time from cpuid.
    ``-ffp-contract=off`` keeps ``d * scale + bias`` two roundings (no fma),
    as in torch; ``-fopenmp`` runs the kernel on torch's OpenMP threads;
    ``-g0`` drops the debug info of the torch headers (10+ MB).
    """
    return CppExtension(
        name='mmbnn.ops._xnor_ext',
        sources=sorted(glob.glob(os.path.join(XNOR_SRC, '*.cpp'))),
        depends=sorted(glob.glob(os.path.join(XNOR_SRC, '*.h'))),
        extra_compile_args=['-O3', '-g0', '-ffp-contract=off', '-fopenmp'],
        extra_link_args=['-fopenmp'])


# What ``mim`` (OpenMMLab's package manager) looks for in ``mmbnn/.mim``:
# ``mim train/test mmbnn`` run its tools, ``mim search mmbnn`` reads its
# model index.
MIM_FILES = ('tools', 'configs', 'model-index.yml')


def add_mim_extension() -> None:
    """Put ``tools``, ``configs`` and ``model-index.yml`` into
    ``mmbnn/.mim``, as OpenMMLab's packages do.

    An editable install (``pip install -e .``, which runs the
    ``editable_wheel`` command, or the older ``develop``) links them, so
    that ``mmbnn/.mim`` follows the repository; a wheel or source
    distribution build copies them so that the package carries them. Any
    other command leaves ``mmbnn/.mim`` alone.

    Raises:
        FileNotFoundError: One of :data:`MIM_FILES` is missing.
    """
    if {'develop', 'editable_wheel'} & set(sys.argv):
        mode = 'copy' if os.name == 'nt' else 'symlink'  # no links there
    elif {'sdist', 'bdist_wheel'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    repo = osp.dirname(osp.abspath(__file__))
    mim_dir = osp.join(repo, 'mmbnn', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(repo, name), osp.join(mim_dir, name)
        if not osp.exists(src):
            raise FileNotFoundError(f'{src} is missing: mmbnn/.mim needs it')
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


def parse_requirements(path: str) -> list:
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


add_mim_extension()
setup(
    name='mmbnn',
    version=read_version(),
    description='Binary (1-bit) object detectors for MMDetection 3.x',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(
        exclude=('configs', 'configs.*', 'tools', 'tools.*', 'tests',
                 'tests.*')),
    # mmbnn/.mim (see add_mim_extension), listed in MANIFEST.in
    include_package_data=True,
    python_requires='>=3.11',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require=dict(tests=parse_requirements('requirements/tests.txt')),
    license='Apache-2.0',
    ext_modules=[xnor_extension()],
    cmdclass={'build_ext': BuildExtension},
    zip_safe=False,
)
