# Copyright (c) mmbnn contributors. All rights reserved.
from setuptools import find_packages, setup


def read_version() -> str:
    scope: dict = {}
    with open('mmbnn/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


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
)
