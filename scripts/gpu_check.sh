#!/usr/bin/env bash
# ember on a real NVIDIA GPU: the cuda tests, the fake-device tests, the MNIST example and the
# benchmarks, in under 6 minutes, with no network and nothing installed.
#
#   bash scripts/gpu_check.sh            # from the repository root
#
# Needs: an NVIDIA GPU, CuPy and PyTorch already installed, pytest. ember is put on the path
# with PYTHONPATH=src. Everything is written to $OUT/gpu_check.log when $OUT is set (the
# device tool's output folder), else ./gpu_check.log; pytest's JUnit XML goes beside it.
# Exit status: 1 if a test step failed, 2 if only the example or a benchmark failed, else 0.
# GPU_CHECK_BUDGET (seconds, default 340) caps the whole run; each step gets a share of it.
set -u -o pipefail

cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-.}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.log"
: > "$LOG"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
unset EMBER_FAKE_CUDA
BUDGET="${GPU_CHECK_BUDGET:-340}"
PY="${PYTHON:-python}"
SUMMARY=()
TEST_FAILED=0
OTHER_FAILED=0

log() { echo "$*" | tee -a "$LOG"; }

# step NAME KIND SECONDS CMD...: runs CMD under `timeout`, never past the overall budget.
step() {
    local name="$1" kind="$2" want="$3"
    shift 3
    local left=$((BUDGET - SECONDS))
    local limit=$((want < left ? want : left))
    if ((limit < 10)); then
        log "=== $name: SKIPPED (budget spent)"
        SUMMARY+=("$name: skipped, budget spent")
        return
    fi
    local cmd="$*"
    cmd="${cmd%%$'\n'*}"
    ((${#cmd} > 160)) && cmd="${cmd:0:157}..."
    log ""
    log "=== $name (limit ${limit}s): $cmd"
    local start=$SECONDS rc
    # SIGINT first: pytest then still prints the summary of what it ran
    timeout --signal=INT --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    local took=$((SECONDS - start)) status="ok"
    if ((rc == 124 || rc == 137)); then
        status="TIMED OUT"
    elif ((rc == 5)) && [[ "$kind" == test ]]; then
        status="no tests collected"
    elif ((rc != 0)); then
        status="FAILED (exit $rc)"
    fi
    if [[ "$status" != ok && "$status" != "no tests collected" ]]; then
        if [[ "$kind" == test ]]; then TEST_FAILED=1; else OTHER_FAILED=1; fi
    fi
    log "=== $name: $status in ${took}s"
    SUMMARY+=("$name: $status in ${took}s")
}

log "ember gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) in $PWD"
PROBE='import sys, numpy
print("python", sys.version.split()[0], "| numpy", numpy.__version__)
for name in ("cupy", "torch"):
    try:
        mod = __import__(name)
        print(name, mod.__version__)
    except Exception as exc:
        print(name, "unavailable:", exc)
import ember
n = ember.cuda.device_count()
name = ember.cuda.get_device_name() if n else "-"
print("ember", ember.__version__, "| sees", n, "GPU(s) |", name)
sys.exit(0 if n else 1)'
step "environment" info 20 \
    bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -5"
# without a GPU every cuda test would skip and look green: that is a failure here
step "GPU visible to ember" test 40 "$PY" -c "$PROBE"

PYTEST=("$PY" -m pytest -p no:cacheprovider -o console_output_style=classic -rfEs)
step "fake-device tests" test 30 \
    "${PYTEST[@]}" -q --junitxml="$OUT_DIR/fake-tests.xml" tests/test_cuda_fake.py
step "cuda tests (pytest -m cuda, without the op registry)" test 120 \
    "${PYTEST[@]}" -q -m cuda -k "not op_registry" --durations=5 \
    --junitxml="$OUT_DIR/cuda-tests.xml" tests

if [[ -f examples/mnist.py ]]; then
    step "MNIST example on cuda" other 75 "$PY" examples/mnist.py --device cuda --no-progress
else
    SUMMARY+=("MNIST example: not present")
fi
if [[ -f benchmarks/run.py ]]; then
    step "benchmarks --device cuda --quick" other 60 "$PY" benchmarks/run.py --device cuda --quick
else
    SUMMARY+=("benchmarks/run.py: not present")
fi
if [[ -f benchmarks/matmul_backends.py ]]; then
    step "matmul backends" other 40 "$PY" benchmarks/matmul_backends.py \
        --sizes 1024,2048,4096 --repeats 5 --only numpy,cupy,cuda
else
    SUMMARY+=("benchmarks/matmul_backends.py: not present")
fi
# last: on a fresh machine CuPy compiles a kernel per op and dtype, so this takes longest
step "op registry on the GPU" test 300 \
    "${PYTEST[@]}" -v -m cuda -k "op_registry" --junitxml="$OUT_DIR/cuda-registry.xml" tests

log ""
log "=== summary (${SECONDS}s of ${BUDGET}s)"
for line in "${SUMMARY[@]}"; do log "  $line"; done
if ((TEST_FAILED)); then exit 1; fi
if ((OTHER_FAILED)); then exit 2; fi
exit 0
