#!/usr/bin/env bash
# One-shot GPU check of mmbnn (about 5 minutes on one GPU):
#   1. installs what is missing (mmengine, mmcv, mmdet, ..., mmbnn's kernel);
#   2. runs the tests marked `cuda` (tests/test_cuda) and the mmcv-fallback
#      tests;
#   3. times real-size training steps side by side with peak memory:
#      Faster R-CNN R18-FPN at 600x1000, batch 2, and SSD300 at batch 16,
#      FP / STE / SURGE / StoMPP / StoMPP+STE
#      (tools/analysis_tools/benchmark_training.py);
#   4. trains a few iterations through tools/dist_train.sh on 1 GPU (NCCL);
# and writes everything to one report, OUT/report.md.
#
# Usage: tools/gpu_check.sh [--out DIR] [--wheels DIR] [--mmcv-ops-fallback]
#                           [--steps N]
#   --out DIR             report folder (default work_dirs/gpu_check)
#   --wheels DIR          install missing packages offline from this folder
#                         of wheels (pip --no-index --find-links DIR); an
#                         mmcv wheel there (e.g. from tools/build_mmcv_cuda.sh)
#                         also replaces an installed mmcv without CUDA ops
#   --mmcv-ops-fallback   only if mmcv has no CUDA ops: use
#                         tools/gpu/mmcv_ext_fallback.py (nms and RoIAlign
#                         through torchvision) in their place, instead of
#                         building mmcv's CUDA ops; the report says so
#   --steps N             measured steps per config (default 10)
#   --parts "LIST"        run only these parts, of: install tests timing dist
#                         (default all; install only checks when done)
# PYTHON picks the interpreter (default python3).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=work_dirs/gpu_check
WHEELS=""
FALLBACK=0
STEPS=10
PARTS="install tests timing dist"
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=$2; shift 2 ;;
        --wheels) WHEELS=$2; shift 2 ;;
        --mmcv-ops-fallback) FALLBACK=1; shift ;;
        --steps) STEPS=$2; shift 2 ;;
        --parts) PARTS=$2; shift 2 ;;
        *) echo "unknown option $1 (allowed: --out, --wheels," \
               "--mmcv-ops-fallback, --steps, --parts)" >&2; exit 2 ;;
    esac
done
PY=${PYTHON:-python3}
mkdir -p "$OUT"
REPORT=$OUT/report.md
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
FAILED=()
for part in $PARTS; do
    case "$part" in install|tests|timing|dist) ;;
        *) echo "unknown part '$part' in --parts (allowed: install tests" \
                "timing dist)" >&2; exit 2 ;;
    esac
done
want() { [[ " $PARTS " == *" $1 "* ]]; }

section() { printf '\n## %s\n\n' "$1" >>"$REPORT"; echo "== $1"; }
# run NAME CMD...: the command's output into the report as a code block
run() {
    local name=$1; shift
    local start=$SECONDS
    printf '```\n$ %s\n' "$*" >>"$REPORT"
    "$@" >"$OUT/$name.log" 2>&1
    local code=$?
    tail -n 60 "$OUT/$name.log" >>"$REPORT"
    printf '```\nexit %d, %d s\n' "$code" $((SECONDS - start)) >>"$REPORT"
    [ $code -eq 0 ] || FAILED+=("$name")
    return $code
}

echo "# mmbnn GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')" >"$REPORT"
section "Machine"
run env bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version \
--format=csv,noheader; $PY -c 'import sys, torch; print(sys.version.split()[0],\
 \"torch\", torch.__version__, \"cuda\", torch.version.cuda, \
torch.cuda.get_device_name() if torch.cuda.is_available() else \"NO CUDA\")'"

section "Install"
pip_install() {
    if [ -n "$WHEELS" ]; then
        $PY -m pip install -q --no-deps --no-index --find-links "$WHEELS" "$@"
    else
        $PY -m pip install -q "$@"
    fi
}
install_missing() {
    local mod
    # pkg_resources (mmengine uses it) left setuptools in version 81
    for spec in "pkg_resources:setuptools<81" addict:addict yapf:yapf termcolor:termcolor \
        terminaltables:terminaltables pycocotools:pycocotools \
        shapely:shapely platformdirs:platformdirs \
        mmengine:mmengine==0.10.7 mmcv:mmcv==2.1.0 mmdet:mmdet==3.3.0; do
        mod=${spec%%:*}
        $PY -c "import $mod" 2>/dev/null && continue
        echo "installing ${spec#*:}"
        if [ "$mod" = mmcv ]; then  # or its Python-only build
            pip_install mmcv==2.1.0 || pip_install mmcv-lite==2.1.0 || return 1
        else
            pip_install "${spec#*:}" || return 1
        fi
    done
    # mmcv's real CUDA ops whenever they are there
    local ops
    ops=$($PY tools/misc/detect_cuda.py --installed)
    if [[ $ops != "mmcv ops: CUDA kernels"* ]] && [ -n "$WHEELS" ] &&
        compgen -G "$WHEELS/mmcv-2.1.0-*.whl" >/dev/null; then
        echo "$ops: installing mmcv from $WHEELS"
        pip_install --force-reinstall mmcv==2.1.0 || return 1
        ops=$($PY tools/misc/detect_cuda.py --installed)
    fi
    echo "$ops"
    if [[ $ops == "mmcv ops: CUDA kernels"* ]]; then
        $PY -c "import torch; from mmcv.ops import nms; \
b = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]]).cuda(); \
keep = nms(b, torch.tensor([.9, .8, .7]).cuda(), 0.5)[1]; \
assert keep.tolist() == [0, 2], keep; print('mmcv nms on', b.device, 'OK')" ||
            return 1
    elif [ $FALLBACK -eq 1 ]; then
        local dir
        dir=$($PY -c "import mmcv, os; print(os.path.dirname(mmcv.__file__))")
        # a compiled CPU-only _ext would shadow _ext.py: set it aside
        for so in "$dir"/_ext.*.so; do
            [ -e "$so" ] && mv "$so" "$so.cpu-only"
        done
        cp tools/gpu/mmcv_ext_fallback.py "$dir/_ext.py"
        echo "mmcv ops: FALLBACK tools/gpu/mmcv_ext_fallback.py" \
             "(nms and RoIAlign through torchvision, not mmcv's kernels)"
    else
        echo "mmcv has no CUDA ops: build them (make install on this" \
             "machine, or tools/build_mmcv_cuda.sh and --wheels DIR) or" \
             "pass --mmcv-ops-fallback"
        return 1
    fi
    if ! $PY -c "from mmbnn.ops import xnor; assert xnor.is_available()" \
        2>/dev/null; then
        echo "building mmbnn's CPU kernel"
        # optional on a GPU machine: only the CPU deploy tests need it
        MAX_JOBS=$(nproc) $PY setup.py -q build_ext --inplace ||
            echo "WARNING: mmbnn's CPU kernel did not build; its tests skip"
    fi
    $PY -c "import mmcv, mmdet, mmengine, mmbnn; \
print('mmengine', mmengine.__version__, 'mmcv', mmcv.__version__, \
'mmdet', mmdet.__version__, 'mmbnn', mmbnn.__version__)"
}
run install install_missing || { echo "install failed: see $REPORT"; exit 1; }

if want tests; then
section "CUDA tests (pytest -m cuda)"
run cuda_tests $PY -m pytest -q -rs -m cuda -p no:cacheprovider tests/test_cuda
run fallback_tests $PY -m pytest -q -rs -p no:cacheprovider \
    tests/test_tools/test_mmcv_ext_fallback.py
fi

if want timing; then
section "Training step, Faster R-CNN R18-FPN, 2 x 600x1000"
run step_faster_rcnn $PY tools/analysis_tools/benchmark_training.py \
    --device cuda --batch-size 2 --image-size 600 1000 --steps "$STEPS" \
    --warmup 3 --out "$OUT/step_faster_rcnn.json" --configs \
    FP=configs/faster_rcnn_r18_fp_voc.py \
    STE=configs/faster_rcnn_r18_ste_voc.py \
    SURGE=configs/faster_rcnn_r18_surge_voc.py \
    StoMPP=configs/faster_rcnn_r18_stompp_voc.py \
    StoMPP+SURGE=configs/faster_rcnn_r18_stompp_surge_voc.py

section "Training step, SSD300, 16 x 300x300"
run step_ssd300 $PY tools/analysis_tools/benchmark_training.py \
    --device cuda --batch-size 16 --image-size 300 --steps "$STEPS" \
    --warmup 3 --out "$OUT/step_ssd300.json" --configs \
    FP=configs/ssd300_vgg16_fp_voc.py STE=configs/ssd300_vgg16_ste_voc.py \
    SURGE=configs/ssd300_vgg16_surge_voc.py \
    StoMPP=configs/ssd300_vgg16_stompp_voc.py
fi

if want dist; then
section "tools/dist_train.sh, 1 GPU, NCCL"
DEMO=$OUT/demo_data
run dist_train bash -c "$PY tools/dataset_converters/make_demo_dataset.py \
$DEMO --num-trainval 16 --num-test 8 && PYTHON=$PY \
tools/dist_train.sh configs/demo/faster_rcnn_r18_surge_demo.py 1 \
--work-dir $OUT/dist_train --cfg-options train_cfg.max_epochs=1 \
train_dataloader.dataset.data_root=$DEMO/VOCdevkit/ \
val_dataloader.dataset.data_root=$DEMO/VOCdevkit/ \
test_dataloader.dataset.data_root=$DEMO/VOCdevkit/ && \
grep -h -o 'backend.\{0,40\}nccl\|Distributed launcher\|pascal_voc/mAP: [0-9.]*' \
$OUT/dist_train/*/*.log | sort | uniq -c"
fi

section "Summary"
if [ ${#FAILED[@]} -eq 0 ]; then
    echo "all steps passed" | tee -a "$REPORT"
else
    echo "failed: ${FAILED[*]}" | tee -a "$REPORT"
fi
echo "report: $REPORT"
[ ${#FAILED[@]} -eq 0 ]
