#!/usr/bin/env bash
# The GPU check, one command for a machine with an NVIDIA GPU (H100/H200)
# where torch is already installed and there may be no network:
#
#   1. build the op library in place against the installed torch, CUDA forced on
#   2. run tests/python/test_cuda.py (all but the >2^31-element tests)
#   3. run the >2^31-element tests (test_huge_*) on their own
#   4. run the GPU benchmark (python -m gelu_ext bench --device cuda)
#   5. run compute-sanitizer --tool memcheck, racecheck and initcheck over a
#      short CUDA test (test_sanitizer_smoke); any report fails the step
#   6. build tools/accuracy with CMake and run its sweep on the GPU
#      (--device cuda), if the budget allows
#
# It runs whole or in two phases of at most 5 minutes each, for machines
# whose commands are time-limited:
#   --phase 1: build, the CUDA tests, compute-sanitizer memcheck;
#   --phase 2: (the build of phase 1, so --skip-build is implied) the huge
#              tests, the benchmark, racecheck and initcheck, the accuracy sweep.
#
# $OUT (default ./gpu_check_out) ends with at most five files per phase:
# summary.txt (one line per step), logs.tar.gz (every step's log, the JUnit
# XML and the environment; both named _phase1/_phase2 in a phased run),
# benchmark_cuda.txt and .json, accuracy_cuda.json. The
# script keeps going after a failed step, skips the steps its time budget
# (GPU_CHECK_BUDGET_S: 280 s per phase, 560 s for both) has no room for
# (reported SKIPPED, which is not a failure), and exits 0 only if every step
# that ran passed.
#
#   scripts/gpu_check.sh               # everything
#   scripts/gpu_check.sh --phase 1     # then: scripts/gpu_check.sh --phase 2
#   scripts/gpu_check.sh --dry-run     # check the tools, print the commands, run nothing
#   scripts/gpu_check.sh --skip-build  # reuse the build already in python/gelu_ext
#   scripts/gpu_check.sh --keep-going  # run every step even without a usable GPU
#
# Environment: PYTHON (default python3), OUT, GPU_CHECK_BUDGET_S,
# GPU_CHECK_ACCURACY_STRIDE (default 7),
# GPU_CHECK_BENCH_SIZES (default 4K,16K,...,256M: every other power of 2),
# GPU_CHECK_BENCH_MIN_TIME (default 0.03 s), TORCH_CUDA_ARCH_LIST (default
# 9.0+PTX), MAX_JOBS (default: all cores), CUDA_HOME (to find compute-sanitizer).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
OUT="${OUT:-$PWD/gpu_check_out}"
PHASE=all
BENCH_SIZES="${GPU_CHECK_BENCH_SIZES:-4K,16K,64K,256K,1M,4M,16M,64M,256M}"
BENCH_MIN_TIME="${GPU_CHECK_BENCH_MIN_TIME:-0.03}"
DRY_RUN=0
SKIP_BUILD=0
KEEP_GOING=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  arg="${args[$i]}"
  case "$arg" in
    --phase)
      PHASE="${args[$((i + 1))]:-}"
      i=$((i + 1))
      [[ "$PHASE" == 1 || "$PHASE" == 2 ]] || {
        echo "gpu_check.sh: --phase must be 1 or 2, got '$PHASE'" >&2
        exit 2
      }
      ;;
    --dry-run) DRY_RUN=1 ;;
    --skip-build) SKIP_BUILD=1 ;;
    --keep-going) KEEP_GOING=1 ;;
    -h | --help)
      sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "gpu_check.sh: unknown argument '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done

[[ "$PHASE" == 2 ]] && SKIP_BUILD=1
if [[ "$PHASE" == all ]]; then
  BUDGET_S="${GPU_CHECK_BUDGET_S:-560}"
else
  BUDGET_S="${GPU_CHECK_BUDGET_S:-280}"
fi
# in_phase N: whether the steps of phase N run in this invocation.
in_phase() { [[ "$PHASE" == all || "$PHASE" == "$1" ]]; }

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# Per phase, so that phase 2 in the same $OUT keeps phase 1's results.
SUFFIX=""
[[ "$PHASE" == all ]] || SUFFIX="_phase$PHASE"
SUMMARY="$OUT/summary$SUFFIX.txt"
: >"$SUMMARY"
START=$(date +%s)
FAILED=0
# Few files out, however the script ends: the logs, JUnit XML and the
# environment go into one archive.
pack_logs() {
  ((DRY_RUN)) && return 0
  (
    cd "$OUT" || exit 0
    shopt -s nullglob
    packed=(*.log *.xml environment.txt)
    if ((${#packed[@]})) && tar czf "logs$SUFFIX.tar.gz" "${packed[@]}"; then
      rm -f "${packed[@]}"
    fi
  )
}
trap pack_logs EXIT
cd "$ROOT" || exit 2
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
export MAX_JOBS="${MAX_JOBS:-$(nproc)}"
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0+PTX}"
PYTEST=("$PY" -m pytest -p no:cacheprovider -q -rs)

say() { echo "[gpu_check] $*" | tee -a "$SUMMARY"; }
elapsed() { echo $(($(date +%s) - START)); }

# record NAME STATUS SECONDS LOG: one summary line per step.
record() {
  say "$(printf '%-7s %-22s %4ss  %s' "$2" "$1" "$3" "${4:-}")"
  [[ "$2" == PASS || "$2" == SKIPPED ]] || FAILED=1
}

# step NAME MAX_SECONDS CMD...: runs CMD with its output in $OUT/NAME.log,
# under a timeout of MAX_SECONDS or what is left of the budget if less.
step() {
  local name="$1" max_s="$2"
  shift 2
  local log="$OUT/$name.log"
  if ((DRY_RUN)); then
    printf '[dry-run] %-20s (<= %ss): ' "$name" "$max_s"
    printf '%q ' "$@"
    echo
    return 0
  fi
  local left=$((BUDGET_S - $(elapsed)))
  if ((left < 20)); then
    record "$name" SKIPPED 0 "time budget of ${BUDGET_S}s used up"
    return 1
  fi
  ((max_s > left)) && max_s=$left
  local t0
  t0=$(date +%s)
  echo "+ $*" >"$log"
  timeout --kill-after=10 "$max_s" "$@" >>"$log" 2>&1
  local rc=$?
  local took=$(($(date +%s) - t0))
  if ((rc == 124 || rc == 137)); then
    record "$name" TIMEOUT "$took" "$log (limit ${max_s}s)"
    return 1
  fi
  if ((rc != 0)); then
    record "$name" FAIL "$took" "$log (exit $rc)"
    return 1
  fi
  record "$name" PASS "$took" "$log"
  return 0
}

# A test log is a failure if the CUDA tests were skipped for want of a GPU or
# of compiled kernels: pytest exits 0 then.
check_not_skipped() {
  local name="$1" log="$OUT/$1.log"
  ((DRY_RUN)) && return 0
  if grep -Eq "SKIPPED .*(no CUDA device available|built without CUDA kernels)" "$log"; then
    record "$name-coverage" FAIL 0 "CUDA tests were skipped (see $log)"
  fi
}

# The sanitizer's own verdict: a summary line with zero errors and hazards.
check_sanitizer_report() {
  local name="$1" log="$OUT/$1.log"
  ((DRY_RUN)) && return 0
  if ! grep -Eq "(ERROR|RACECHECK) SUMMARY: " "$log"; then
    record "$name-report" FAIL 0 "no compute-sanitizer summary in $log"
  elif grep -E "(ERROR|RACECHECK) SUMMARY: " "$log" |
    grep -Evq "SUMMARY: 0 (errors|hazards displayed \(0 errors, 0 warnings\))"; then
    record "$name-report" FAIL 0 "$(grep -E "SUMMARY: " "$log" | tail -1)"
  fi
}

# --- preflight: what this machine has ----------------------------------------
say "gelu_ext GPU check in $ROOT, output in $OUT, phase $PHASE, budget ${BUDGET_S}s"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" - <<'EOF'
import importlib.util, os, shutil, sys
import torch
from torch.utils import cpp_extension
print("python", sys.version.split()[0], sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "cuda available", torch.cuda.is_available())
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        print(f"device {i}: {p.name}, {p.total_memory / 2**30:.1f} GiB, sm_{p.major}{p.minor}, {p.multi_processor_count} SMs")
print("CUDA_HOME", cpp_extension.CUDA_HOME)
print("ninja", shutil.which("ninja") or "missing (the build is serial and slow)")
for mod in ("pytest", "hypothesis", "mpmath", "numpy", "triton"):
    print(mod, "ok" if importlib.util.find_spec(mod) else "MISSING")
EOF
} >"$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"

if ! "$PY" -c "import pytest" 2>/dev/null; then
  record preflight-pytest MISSING 0 "$PY cannot import pytest: the test steps cannot run"
fi
GPU_OK=1
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  GPU_OK=0
  record preflight-gpu FAIL 0 "torch sees no CUDA device"
  if ((!DRY_RUN && !KEEP_GOING)); then
    say "stopping: nothing to check without a GPU (--keep-going runs the steps anyway)"
    exit 1
  fi
fi

# compute-sanitizer: on PATH, else in the toolkit of CUDA_HOME, of the real
# nvcc (behind any wrapper script) or of torch's guess.
SANITIZER="$(command -v compute-sanitizer || true)"
if [[ -z "$SANITIZER" ]]; then
  NVCC="$(command -v nvcc || true)"
  for toolkit in "${CUDA_HOME:-}" "${NVCC:+$(dirname "$(dirname "$(readlink -f "$NVCC")")")}" \
    "$("$PY" -c 'from torch.utils.cpp_extension import CUDA_HOME; print(CUDA_HOME or "")' 2>/dev/null)"; do
    for cand in "$toolkit/bin/compute-sanitizer" "$toolkit/compute-sanitizer/compute-sanitizer"; do
      [[ -n "$toolkit" && -x "$cand" ]] && SANITIZER="$cand" && break 2
    done
  done
fi
say "compute-sanitizer: ${SANITIZER:-not found}"

# --- 1. build ----------------------------------------------------------------
if ((SKIP_BUILD)); then
  say "build skipped (--skip-build)"
else
  # The build starts from scratch so that it uses this machine's torch.
  ((DRY_RUN)) || rm -rf "$ROOT/build"
  step build 300 env GELU_EXT_CUDA=1 "$PY" setup.py build_ext --inplace
fi
BUILD_CHECK="import gelu_ext; from gelu_ext import _C
print(gelu_ext.__file__, _C.version(), _C.cuda_archs())
assert _C.cuda_compiled(), 'no CUDA kernels in the build'"
step build-check 60 "$PY" -c "$BUILD_CHECK"

# --- 2-3. tests --------------------------------------------------------------
if in_phase 1; then
  step tests 150 "${PYTEST[@]}" --durations=15 --junitxml="$OUT/tests.xml" \
    tests/python/test_cuda.py -k "not huge"
  check_not_skipped tests
fi
if in_phase 2; then
  step tests-huge 90 "${PYTEST[@]}" --junitxml="$OUT/tests-huge.xml" \
    tests/python/test_cuda.py -k huge
  check_not_skipped tests-huge
fi

# --- 4. benchmark ------------------------------------------------------------
in_phase 2 && step benchmark 150 "$PY" -m gelu_ext bench --device cuda --dtype float32,bfloat16,float16 \
  --sizes "$BENCH_SIZES" --min-time "$BENCH_MIN_TIME" --no-progress \
  --json "$OUT/benchmark_cuda.json"
if ((!DRY_RUN)) && [[ -s "$OUT/benchmark.log" ]]; then
  sed 1d "$OUT/benchmark.log" >"$OUT/benchmark_cuda.txt"  # the table, without the command
fi

# --- 5. compute-sanitizer (last: its run time varies most) ---------------------
# Without the caching allocator every tensor is its own cudaMalloc, so an
# access past a tensor's end is outside any allocation and memcheck sees it.
# --report-api-errors no: the checks are about kernels' memory accesses;
# torch probes some CUDA APIs at start-up and handles their error returns.
TOOLS=()
in_phase 1 && TOOLS+=(memcheck)
in_phase 2 && TOOLS+=(racecheck initcheck)
for tool in "${TOOLS[@]}"; do
  if [[ -z "$SANITIZER" ]] && ((!DRY_RUN)); then
    record "sanitizer-$tool" MISSING 0 "compute-sanitizer not found (PATH, CUDA_HOME)"
    continue
  fi
  step "sanitizer-$tool" 120 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 \
    "${SANITIZER:-compute-sanitizer}" --tool "$tool" --error-exitcode 1 --report-api-errors no \
    "${PYTEST[@]}" tests/python/test_cuda.py -k sanitizer_smoke
  check_sanitizer_report "sanitizer-$tool"
  check_not_skipped "sanitizer-$tool"
done

# --- 6. the exhaustive accuracy sweep on the GPU (docs/ACCURACY.md) ---------
# tools/accuracy --device cuda: gelu_ext's and native CUDA results against
# the reference, and gelu_ext's CUDA results against its CPU ones (within 2
# ulp float32, 1 ulp 16-bit). A CMake build of the op library and the tool (no GoogleTest
# needed); every GPU_CHECK_ACCURACY_STRIDE-th float32 pattern (default 7; 1
# is all 2^32) plus every special value and every bfloat16/float16 pattern.
ACC_BUILD="$ROOT/build/cmake-gpu"
ACC_STRIDE="${GPU_CHECK_ACCURACY_STRIDE:-7}"
if ! in_phase 2; then
  :
elif ! command -v cmake >/dev/null && ((!DRY_RUN)); then
  record accuracy-build MISSING 0 "cmake not found: the accuracy sweep needs a CMake build"
else
  GENERATOR=()
  command -v ninja >/dev/null && GENERATOR=(-G Ninja)
  step accuracy-configure 90 cmake -S "$ROOT" -B "$ACC_BUILD" "${GENERATOR[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DGELU_EXT_CUDA=ON -DGELU_EXT_BUILD_TESTS=OFF \
    -DGELU_EXT_BUILD_EXAMPLES=OFF -DPython3_EXECUTABLE="$(command -v "$PY" || echo "$PY")" &&
    step accuracy-build 240 cmake --build "$ACC_BUILD" --parallel --target gelu_ext_accuracy &&
    step accuracy 180 "$ACC_BUILD/tools/accuracy/gelu_ext_accuracy" --device cuda \
      --stride "$ACC_STRIDE" --json "$OUT/accuracy_cuda.json"
fi

if ((DRY_RUN)); then
  say "dry run: nothing was built or run"
  exit 0
fi
say "total $(elapsed)s; $( ((FAILED)) && echo "SOME STEPS DID NOT PASS" || echo "every step that ran passed")"
exit "$FAILED"
