# Copyright (c) mmbnn contributors. All rights reserved.
import glob
import os

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


def parse_requirements(path: str) -> list:
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


setup(
    name='mmbnn',
    version=read_version(),
    description='Binary (1-bit) object detectors for MMDetection 3.x',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.11',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require=dict(tests=parse_requirements('requirements/tests.txt')),
    license='Apache-2.0',
    ext_modules=[xnor_extension()],
    cmdclass={'build_ext': BuildExtension},
    zip_safe=False,
)
