#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run every test: pytest (tests/python) and the
# CMake build of the op library with its GoogleTest suite under ctest.
# Exits non-zero on any failure, including "no tests collected".
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
