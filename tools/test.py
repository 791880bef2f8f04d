# Copyright (c) mmbnn contributors. All rights reserved.
"""Test a detector: ``python tools/test.py CONFIG CHECKPOINT [--out x.pkl]
[--show-dir DIR] [--work-dir DIR] [--cfg-options k=v ...]
[--launcher {none,pytorch,slurm,mpi}]`` (mmdet's flags). CHECKPOINT may be a
deploy checkpoint of ``tools/deploy/export.py``: the packed model is then
evaluated on CPU (``--deploy-backend {auto,kernel,reference}``).
``--deploy-backend openvino`` evaluates a training or (unfused) deploy
checkpoint with its network exported to ONNX and run on OpenVINO;
``--deploy-backend float64`` with that network in float64 in PyTorch (the
reference for comparing runtimes)."""
from mmbnn.apis import run

if __name__ == '__main__':
    run('test')
