#!/usr/bin/env bash
# Distributed testing (and evaluation) with torchrun.
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# Same environment variables as tools/dist_train.sh (NNODES, NODE_RANK,
# PORT, MASTER_ADDR, PYTHON).
set -e

CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="${TOOLS_DIR}/..${PYTHONPATH:+:${PYTHONPATH}}" \
"${PYTHON}" -m torch.distributed.run \
    --nnodes="${NNODES}" \
    --node_rank="${NODE_RANK}" \
    --master_addr="${MASTER_ADDR}" \
    --nproc_per_node="${GPUS}" \
    --master_port="${PORT}" \
    "${TOOLS_DIR}/test.py" \
    "${CONFIG}" \
    "${CHECKPOINT}" \
    --launcher pytorch "${@:4}"
