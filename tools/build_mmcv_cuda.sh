#!/usr/bin/env bash
# Builds an mmcv 2.1.0 wheel with its CUDA ops, on a machine with or without
# a GPU, for a GPU machine with the same torch build:
#   tools/gpu_check.sh --wheels OUT     (or: pip install OUT/mmcv-2.1.0-*.whl)
# Not part of `make test`. Needs the CUDA toolkit (nvcc) of torch's CUDA
# major version; CUDA library headers missing from the toolkit (cusparse.h,
# cublas_v2.h, ...) are taken from the nvidia-* wheels that torch installs
# (tools/misc/detect_cuda.py finds both).
#
# Usage: tools/build_mmcv_cuda.sh [--venv DIR] [--work DIR] [--out DIR]
#                                 [--probe-only]
#   --venv DIR     virtualenv with the CUDA build of torch (default
#                  .venv-cuda; created and filled when missing)
#   --work DIR     mmcv's sources and build files (default build/mmcv-cuda);
#                  a rerun resumes the build where it stopped
#   --out DIR      where the wheel goes (default build/mmcv-cuda-wheels)
#   --probe-only   compile only PROBE_SOURCES, one by one with their times,
#                  and stop: finds source problems in minutes
# Environment:
#   TORCH_SPEC       default 'torch===2.13.0': PyPI's Linux torch 2.13.0 is
#                    built with CUDA 13.0 ('===' skips local '+cpu' wheels
#                    of a find-links folder); for CUDA 12.8 e.g.
#                    TORCH_SPEC=torch==2.13.0+cu128 with
#   TORCH_INDEX_URL  default https://pypi.org/simple, e.g.
#                    https://download.pytorch.org/whl/cu128
#   CUDA_HOME        the toolkit; default: the one nvcc on PATH belongs to
#   TORCH_CUDA_ARCH_LIST  default: tools/misc/detect_cuda.py's choice (the
#                    visible GPUs, else its default list)
#   MAX_JOBS         parallel compiles (default 1); NICE (default 19)
#   PROBE_SOURCES    for --probe-only (default: roi_align, nms, cudabind)
# Build time: mmcv 2.1.0 has 58 .cu files besides the C++ sources of its
# CPU build; for one architecture (TORCH_CUDA_ARCH_LIST=9.0, H100/H200) one
# core compiled them in about 53 minutes and the C++ files in about 23
# (docs/en/user_guides/gpu.md); each further architecture adds about 53
# CPU-minutes; MAX_JOBS divides that by the cores used.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VENV=.venv-cuda
WORK=build/mmcv-cuda
OUT=build/mmcv-cuda-wheels
PROBE_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) VENV=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --probe-only) PROBE_ONLY=1; shift ;;
        *) echo "unknown option $1 (allowed: --venv, --work, --out," \
               "--probe-only)" >&2; exit 2 ;;
    esac
done
MMCV_VERSION=2.1.0
TORCH_SPEC=${TORCH_SPEC:-torch===2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://pypi.org/simple}
export MAX_JOBS=${MAX_JOBS:-1}
NICE=${NICE:-19}
PROBE_SOURCES=${PROBE_SOURCES:-"cuda/roi_align_cuda.cu cuda/nms_cuda.cu
cuda/cudabind.cpp"}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
mkdir -p "$WORK" "$OUT"
WORK=$(cd "$WORK" && pwd)
OUT=$(cd "$OUT" && pwd)
case $VENV in /*) ;; *) VENV=$REPO/$VENV ;; esac
PY=$VENV/bin/python
export PATH=$VENV/bin:$PATH  # its ninja: parallel, resumable builds
log() { echo "[$(date -u +%H:%M:%S)] $*"; }

# 1. the CUDA build of torch, in its own virtualenv
[ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
if ! "$PY" -c 'import torch; assert torch.version.cuda' 2>/dev/null; then
    log "installing $TORCH_SPEC from $TORCH_INDEX_URL"
    nice -n "$NICE" "$PY" -m pip install --index-url "$TORCH_INDEX_URL" \
        "$TORCH_SPEC"
fi
nice -n "$NICE" "$PY" -m pip install -q 'setuptools>=77,<81' wheel numpy \
    ninja

# 2. FORCE_CUDA, TORCH_CUDA_ARCH_LIST, CUDA_HOME (the toolkit of nvcc, also
# behind a wrapper script) and CPATH (the nvidia-* wheels' CUDA library
# headers, where the toolkit lacks them); fails unless torch and nvcc agree
choice=$("$PY" tools/misc/detect_cuda.py --mode 1 --shell)
eval "$choice"
log "torch $("$PY" -c 'import torch; print(torch.__version__)')," \
    "CUDA_HOME=$CUDA_HOME, TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST," \
    "MAX_JOBS=$MAX_JOBS, CPATH=${CPATH:-}"

# 3. mmcv's sources
SRC=$WORK/mmcv-$MMCV_VERSION
if [ ! -f "$SRC/setup.py" ]; then
    log "downloading the mmcv $MMCV_VERSION sources"
    "$PY" -m pip download -q --no-deps --no-binary mmcv \
        --no-build-isolation -d "$WORK" "mmcv==$MMCV_VERSION"
    tar -xzf "$WORK/mmcv-$MMCV_VERSION.tar.gz" -C "$WORK"
fi

# 4a. compile a few sources alone, to find problems early
if [ $PROBE_ONLY -eq 1 ]; then
    mkdir -p "$WORK/probe"
    # shellcheck disable=SC2086
    nice -n "$NICE" "$PY" - "$SRC" "$WORK/probe" $PROBE_SOURCES <<'EOF'
import os
import os.path as osp
import subprocess
import sys
import sysconfig
import time

import torch
from torch.utils import cpp_extension as ce

src, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]
csrc = osp.join(src, 'mmcv/ops/csrc')
incs = ce.include_paths('cuda') + [sysconfig.get_paths()['include']] + [
    osp.join(csrc, d) for d in ('pytorch', 'common', 'common/cuda')]
defs = ['-DMMCV_WITH_CUDA', '-DTORCH_API_INCLUDE_EXTENSION_H',
        '-DTORCH_EXTENSION_NAME=_ext',
        f'-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}',
        '-std=c++17', '-fPIC'] + [f'-I{i}' for i in incs]
failed = 0
for name in files:
    path = osp.join(csrc, 'pytorch', name)
    obj = osp.join(out, osp.basename(name) + '.o')
    if name.endswith('.cu'):
        nvcc = osp.join(os.environ['CUDA_HOME'], 'bin', 'nvcc')
        flags = [f for f in defs if f != '-fPIC']
        cmd = [nvcc, '-c', path, '-o', obj, '--compiler-options', '-fPIC']
        cmd += ce.COMMON_NVCC_FLAGS + flags + ce._get_cuda_arch_flags()
    else:
        cmd = ['c++', '-c', path, '-o', obj] + defs
    start = time.time()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    print(f'{name}: exit {proc.returncode}, {time.time() - start:.0f} s',
          flush=True)
    if proc.returncode:
        failed += 1
        print(proc.stdout[-8000:], flush=True)
sys.exit(1 if failed else 0)
EOF
    exit $?
fi

# 4b. the wheel; the build folder persists, so a rerun resumes
log "building mmcv $MMCV_VERSION with CUDA ops (MAX_JOBS=$MAX_JOBS)"
(cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=1 nice -n "$NICE" "$PY" setup.py \
    -q bdist_wheel --dist-dir "$OUT")
WHEEL=$(ls -t "$OUT"/mmcv-$MMCV_VERSION-*.whl | head -n1)

# 5. the wheel's ops must report CUDA kernels
nice -n "$NICE" "$PY" -m pip install -q 'mmengine>=0.10.7,<0.11' \
    opencv-python-headless
"$PY" -m pip install -q --no-deps --force-reinstall "$WHEEL"
"$PY" tools/misc/detect_cuda.py --installed | tee "$WORK/ops.txt"
grep -q '^mmcv ops: CUDA kernels' "$WORK/ops.txt"
"$PY" -c 'import torch; print("torch", torch.__version__)' \
    >"$OUT/BUILD_INFO.txt"
{
    cat "$WORK/ops.txt"
    echo "TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST"
    echo "built $(date -u '+%Y-%m-%d %H:%M UTC')"
} >>"$OUT/BUILD_INFO.txt"
log "wheel: $WHEEL (install it only with $(head -n1 "$OUT/BUILD_INFO.txt"))"
