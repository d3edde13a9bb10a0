#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run every test: pytest (tests/python); the
# CMake build of the op library with its GoogleTest suite, the deployment
# tests and the strided accuracy sweep under ctest; and the GoogleTest suite
# again in a build with AddressSanitizer + UndefinedBehaviorSanitizer.
# Exits non-zero on any failure, including "no tests collected".
#
# Arguments go to pytest. GELU_EXT_SKIP_SANITIZERS=1 leaves out the
# sanitizer build (a quicker local run; CI runs everything).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
VENV="$("$ROOT/scripts/setup.sh" --venv-path)"
PY="$VENV/bin/python"

echo "== pytest =="
(cd "$ROOT" && "$PY" -m pytest tests/python -q -p no:cacheprovider "$@")

echo "== CMake + GoogleTest =="
BUILD="${GELU_EXT_CMAKE_BUILD:-$ROOT/build/cmake}"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython3_EXECUTABLE="$PY" -DGELU_EXT_DEPLOY_TESTS=ON >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)"
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error

if [[ "${GELU_EXT_SKIP_SANITIZERS:-0}" == "1" ]]; then
  echo "== sanitizers: skipped (GELU_EXT_SKIP_SANITIZERS=1) =="
  exit 0
fi
echo "== GoogleTest under AddressSanitizer + UndefinedBehaviorSanitizer =="
# The op library and the suite instrumented (LibTorch is not); CPU only.
# Any UBSan report aborts (no recovery); LeakSanitizer reports leaks at exit.
SAN="${GELU_EXT_SANITIZE_BUILD:-$ROOT/build/cmake-sanitize}"
cmake -S "$ROOT" -B "$SAN" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGELU_EXT_SANITIZE=address,undefined -DGELU_EXT_CUDA=OFF -DGELU_EXT_BUILD_EXAMPLES=OFF \
  -DGELU_EXT_BUILD_TOOLS=OFF -DGELU_EXT_DEPLOY_TESTS=OFF -DPython3_EXECUTABLE="$PY" \
  >"$SAN.configure.log" 2>&1 || { cat "$SAN.configure.log"; exit 1; }
cmake --build "$SAN" -j "$(nproc)" --target gelu_ext_tests
# The build really is instrumented (a check that could otherwise pass vacuously).
symbols="$(nm -D "$SAN/libgelu_ext_ops.so")"
grep -q __asan_report <<<"$symbols" || { echo "not built with ASan"; exit 1; }
grep -q __ubsan_handle <<<"$symbols" || { echo "not built with UBSan"; exit 1; }
GELU_EXT_SIMD= ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$SAN/tests/cpp/gelu_ext_tests"
