# Copyright (c) mmbnn contributors. All rights reserved.
"""Atomic file writes: a reader never sees a half-written file."""
import os
import os.path as osp
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def atomic_file(path: str) -> Iterator[str]:
    """A temporary path to write ``path``'s content to, renamed to ``path``
    when the block ends without an exception.

    The temporary file lies in ``path``'s folder (created if missing), so
    the rename is atomic, and ends with ``path``'s name, so writers that
    read the format from the extension (e.g. matplotlib) see it. On an
    exception it is removed and ``path`` is left as it was.

    Example:
        >>> with atomic_file('out.pth') as tmp:
        ...     torch.save(obj, tmp)
    """
    folder, name = osp.split(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = osp.join(folder, f'.tmp-{os.getpid()}-{name}')
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
