# Copyright (c) mmbnn contributors. All rights reserved.
"""Loading of mmbnn's compiled CPU extension ``mmbnn.ops._xnor_ext``.

One extension, built from ``mmbnn/ops/csrc/xnor/`` by ``pip install
--no-build-isolation -e .``, holds both the XNOR-popcount binary conv
(:mod:`mmbnn.ops.xnor`) and the float kernels of the real-valued ops around
it (:mod:`mmbnn.ops.float_kernels`); both modules reach it through here.
"""
from typing import Optional

try:
    from . import _xnor_ext as extension
    IMPORT_ERROR: Optional[ImportError] = None
except ImportError as error:  # built without the extension
    extension = None
    IMPORT_ERROR = error


def is_available() -> bool:
    """Whether the compiled extension could be imported."""
    return extension is not None


def import_error() -> Optional[ImportError]:
    """The error that made :func:`is_available` False, if any."""
    return IMPORT_ERROR


def require_extension():
    """The extension module, or a ``RuntimeError`` saying how to build it."""
    if extension is None:
        raise RuntimeError(
            'the XNOR kernel mmbnn.ops._xnor_ext is not built (reinstall with '
            '`pip install --no-build-isolation --no-deps -e .`): '
            f'{IMPORT_ERROR}')
    return extension
