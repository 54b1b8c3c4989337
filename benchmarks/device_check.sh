#!/usr/bin/env bash
# The whole proof of a GPU in one run, for a Linux machine with one NVIDIA GPU and no network.
#
#   bash benchmarks/device_check.sh [--device cuda|cpu] [--quick] [--data DIR] [--only STAGE,...] OUT_DIR
#
# Needs the checkout, and CuPy, numba, matplotlib, tqdm, threadpoolctl and PyTorch under $PYTHON (default:
# python3; nothing is installed: the checkout is imported through PYTHONPATH), and CIFAR-10 in its official layout:
# --data DIR, else $MINITORCH_CIFAR_DATA, else .device_data/ of the checkout (cifar-10-batches-py/ in it, or
# cifar10-jpeg.tar.gz, which the data stage converts with benchmarks/cifar10_from_jpeg.py and Pillow). The stages,
# each with its own time limit (seconds; a stage that fails or runs out of time does not stop the later ones):
#
#   data           convert .device_data/cifar10-jpeg.tar.gz when that is all there is          LIMIT_DATA=90
#   check          python -m minitorch_cifar check --device DEVICE                             LIMIT_CHECK=90
#   tests          the CUDA cases of the test suite: pytest -m cuda                             LIMIT_TESTS=120
#   bench          benchmarks/bench_models.py against PyTorch, TF32 off in both                 LIMIT_BENCH=40
#   bench_tf32     the same with TF32 on in both (skipped where our side has no switch)         LIMIT_BENCH_TF32=25
#   resnet9_torch  the ResNet-9 recipe in PyTorch eager (benchmarks/resnet9_torch.py)           LIMIT_RESNET9_TORCH=70
#   resnet9        the ResNet-9 recipe, examples/08_resnet9.py, 24 epochs                       LIMIT_RESNET9=165
#
# In all at most about 8.5 minutes. --quick shrinks the benchmarks (cnn2 alone on the CPU) and trains ResNet-9
# for one epoch on a subset (as the examples' --quick); --only runs the stages named (e.g. --only resnet9
# with LIMIT_RESNET9=400).
# OUT_DIR gets report.md (the machine, each stage's status, time and key figures), one log per stage,
# stages.tsv and the ResNet-9 run folder. DEVICE_CHECK_TINY=1 shrinks every stage to seconds (for the test
# suite, which runs this script on the CPU).
set -u -o pipefail

usage() {
    echo "usage: bash benchmarks/device_check.sh [--device cuda|cpu] [--quick] [--data DIR] [--only STAGE,...]" \
         "OUT_DIR" >&2
    exit 2
}

DEVICE=cuda QUICK=0 DATA="" ONLY="" OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --device) [ $# -ge 2 ] || usage; DEVICE=$2; shift 2 ;;
        --data) [ $# -ge 2 ] || usage; DATA=$2; shift 2 ;;
        --only) [ $# -ge 2 ] || usage; ONLY=",$2,"; shift 2 ;;
        --quick) QUICK=1; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "device_check.sh: unknown option $1" >&2; usage ;;
        *) [ -z "$OUT" ] || usage; OUT=$1; shift ;;
    esac
done
[ -n "$OUT" ] || usage
case "$DEVICE" in
    cpu|cuda|cuda:[0-9]*) ;;
    *) echo "device_check.sh: --device must be cuda or cpu, got $DEVICE" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$(command -v python3 || echo python)}  # python3: on CUDA images often the only one with PyTorch
TINY=${DEVICE_CHECK_TINY:-0}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || exit 2
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg TQDM_DISABLE=1 PYTHONUNBUFFERED=1
unset CUPY_TF32  # float32 products stay float32 unless a stage asks for TF32
: > "$OUT/stages.tsv"
echo "device check on $DEVICE$([ "$QUICK" = 1 ] && echo ' (quick)') from $ROOT, writing to $OUT" |
    tee "$OUT/device_check.log"

# wanted NAME: whether --only lets stage NAME run (the data stage always may: the trainings need it)
wanted() { [ -z "$ONLY" ] || [ "$1" = data ] || [[ "$ONLY" == *",$1,"* ]]; }

# stage NAME LIMIT COMMAND...: run COMMAND in the checkout under a time limit, its output in OUT/NAME.log; one
# line of stages.tsv says how it ended (pass, fail, timeout) and how long it took.
stage() {
    local name=$1 limit=$2 status
    shift 2
    wanted "$name" || return 0
    echo "== $name (at most ${limit} s): $*" | tee -a "$OUT/device_check.log"
    local start=$SECONDS
    (cd "$ROOT" && timeout --kill-after=10 "$limit" "$@") > "$OUT/$name.log" 2>&1
    local rc=$?
    case $rc in 0) status=pass ;; 124|137) status=timeout ;; *) status=fail ;; esac
    printf '%s\t%s\t%s\t%s\t%s\t\n' "$name" "$status" "$rc" "$((SECONDS - start))" "$limit" >> "$OUT/stages.tsv"
    echo "   $status after $((SECONDS - start)) s; last lines of $name.log:" | tee -a "$OUT/device_check.log"
    tail -n 3 "$OUT/$name.log" | sed 's/^/   | /' | tee -a "$OUT/device_check.log"
}

# skip NAME REASON: a stage that cannot run here, recorded as such.
skip() {
    wanted "$1" || return 0
    printf '%s\tskipped\t-\t0\t-\t%s\n' "$1" "$2" >> "$OUT/stages.tsv"
    echo "== $1 skipped: $2" | tee -a "$OUT/device_check.log"
}

# ---------------------------------------------------------------------------------------------------- the data
if [ -n "$DATA" ]; then
    export MINITORCH_CIFAR_DATA=$(cd "$DATA" && pwd) || exit 2
elif [ -z "${MINITORCH_CIFAR_DATA:-}" ]; then
    export MINITORCH_CIFAR_DATA="$ROOT/.device_data"
    if [ ! -d "$MINITORCH_CIFAR_DATA/cifar-10-batches-py" ] && [ -f "$MINITORCH_CIFAR_DATA/cifar10-jpeg.tar.gz" ]; then
        stage data "${LIMIT_DATA:-90}" "$PYTHON" benchmarks/cifar10_from_jpeg.py \
            "$MINITORCH_CIFAR_DATA/cifar10-jpeg.tar.gz" "$MINITORCH_CIFAR_DATA"
    fi
fi
HAVE_DATA=0
[ -d "$MINITORCH_CIFAR_DATA/cifar-10-batches-py" ] && HAVE_DATA=1
echo "data: $MINITORCH_CIFAR_DATA" | tee -a "$OUT/device_check.log"

# ---------------------------------------------------------------------------------------------------- the stages
CHECK_OPS=() TEST_FILES=(tests) BENCH=(--models cnn2 cnn3 alexnet resnet10 resnet9 --steps 10 --warmup 3 --seconds 0)
RECIPE=(--quick) OURS=("$PYTHON" examples/08_resnet9.py)
[ "$QUICK" = 1 ] || RECIPE=()
[ "$QUICK" = 1 ] && BENCH=(--models cnn2 resnet9 --steps 3 --warmup 1 --seconds 0)
[ "$QUICK" = 1 ] && [ "$DEVICE" = cpu ] && BENCH=(--models cnn2 --steps 2 --warmup 1 --seconds 0)
if [ "$TINY" = 1 ]; then  # seconds per stage: the harness itself under test
    CHECK_OPS=(--ops relu SGD Cutout) TEST_FILES=(tests/test_tensor.py)
    BENCH=(--models softmax --steps 1 --warmup 0 --seconds 0)
    RECIPE=(--epochs 1 --batch-size 8 --train-subset 16 --test-subset 16)
    OURS=("$PYTHON" -m minitorch_cifar train --model resnet9 --drop-last --optimizer sgd --lr 0.4 --momentum 0.9
          --nesterov --weight-decay 5e-4 --scheduler piecewise --augment --padding-mode reflect --cutout 8
          --warmup-epochs 0.25 --normalize cifar10 --no-progress)
fi

stage check "${LIMIT_CHECK:-90}" "$PYTHON" -m minitorch_cifar check --device "$DEVICE" "${CHECK_OPS[@]}"
if "$PYTHON" -c "import pytest" 2> /dev/null; then
    stage tests "${LIMIT_TESTS:-120}" "$PYTHON" -m pytest -v -m cuda -p no:cacheprovider "${TEST_FILES[@]}"
else
    skip tests "pytest is not installed (pip install pytest, before going offline)"
fi
stage bench "${LIMIT_BENCH:-40}" "$PYTHON" benchmarks/bench_models.py --device "$DEVICE" "${BENCH[@]}"
stage bench_tf32 "${LIMIT_BENCH_TF32:-25}" "$PYTHON" benchmarks/bench_models.py --device "$DEVICE" --tf32 \
    "${BENCH[@]}"
if [ "$HAVE_DATA" = 1 ]; then
    stage resnet9_torch "${LIMIT_RESNET9_TORCH:-70}" "$PYTHON" benchmarks/resnet9_torch.py --device "$DEVICE" \
        "${RECIPE[@]}"
    stage resnet9 "${LIMIT_RESNET9:-165}" "${OURS[@]}" --device "$DEVICE" --out "$OUT/resnet9" --overwrite \
        "${RECIPE[@]}"
else
    for name in resnet9_torch resnet9; do
        skip "$name" "no CIFAR-10 in $MINITORCH_CIFAR_DATA/cifar-10-batches-py (see benchmarks/README.md)"
    done
fi

"$PYTHON" "$ROOT/benchmarks/device_report.py" "$OUT" --device "$DEVICE" $([ "$QUICK" = 1 ] && echo --quick)
