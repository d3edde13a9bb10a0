#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the main demo: python -m gelu_ext.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
VENV="$("$ROOT/scripts/setup.sh" --venv-path)"
cd "$ROOT" && exec "$VENV/bin/python" -m gelu_ext "$@"
