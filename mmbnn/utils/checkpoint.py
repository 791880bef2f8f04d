# Copyright (c) mmbnn contributors. All rights reserved.
"""Loading MMEngine checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``. MMEngine
0.10.7 calls ``torch.load`` without ``weights_only``, and its checkpoints
pickle more than tensors: the message hub's ``HistoryBuffer`` objects, numpy
arrays and scalars, and bound methods reached through ``getattr`` (the
buffers' statistics methods). ``getattr`` cannot be allow-listed without
defeating the safe unpickler, so ``tools/test.py`` and ``--resume`` would
fail with ``UnpicklingError: Weights only load failed``.

mmbnn's tools and tests therefore set ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
(honoured by torch when the caller passes no ``weights_only``), the
workaround torch itself recommends for trusted files. Load only checkpoints
you trust; with mmdet's own tools, export the variable yourself.
"""
import os

ENV_VAR = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


def trust_mmengine_checkpoints() -> None:
    """Let ``torch.load`` unpickle full MMEngine checkpoints (trusted files
    only). Leaves an explicit user setting of the variable alone."""
    os.environ.setdefault(ENV_VAR, '1')
