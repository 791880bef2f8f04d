# Copyright (c) mmbnn contributors. All rights reserved.
"""Loading MMEngine checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``. MMEngine
0.10.7 calls ``torch.load`` without ``weights_only`` and its checkpoints
pickle a few non-tensor objects (the message hub's ``HistoryBuffer`` and
numpy arrays/scalars in the runtime info), so ``tools/test.py`` and
``--resume`` fail with ``UnpicklingError: Weights only load failed``.

mmbnn allow-lists exactly those types with
``torch.serialization.add_safe_globals`` when it is imported, so the
``weights_only`` unpickler stays on (no arbitrary code runs from a
checkpoint) and MMEngine checkpoints load.
"""
import numpy as np
import torch


def _mmengine_checkpoint_globals() -> list:
    from mmengine.logging.history_buffer import HistoryBuffer
    types = [HistoryBuffer, np.ndarray, np.dtype]
    # numpy pickles arrays through ``_reconstruct`` and scalars through
    # ``scalar``; their module moved from numpy.core to numpy._core in 2.0.
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    types += [multiarray._reconstruct, multiarray.scalar]
    # dtype classes (``numpy.dtypes.Float64DType`` ...) are pickled by name.
    types += [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64,
                                         np.int32, np.bool_, np.uint8)]
    return types


def allow_trusted_checkpoints() -> None:
    """Allow-list the non-tensor types of MMEngine checkpoints for
    ``torch.load(weights_only=True)`` (a no-op on torch < 2.4)."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(_mmengine_checkpoint_globals())
