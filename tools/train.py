# Copyright (c) mmbnn contributors. All rights reserved.
"""Train a detector: ``python tools/train.py CONFIG [--work-dir DIR]
[--resume [CKPT]] [--amp] [--auto-scale-lr] [--cfg-options k=v ...]
[--launcher {none,pytorch,slurm,mpi}]`` (mmdet's flags)."""
from mmbnn.apis import run

if __name__ == '__main__':
    run('train')
