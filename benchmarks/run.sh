#!/usr/bin/env bash
# The whole benchmark, one command: set-up (idempotent), models, the interleaved run, RESULTS.md.
#   benchmarks/run.sh                      # full run: 3 rounds x 5 s per cell (about 25 minutes)
#   benchmarks/run.sh --rounds 1 --seconds 2 --only mlp    # a short run for direction
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
cd "$ROOT"
[ -x .venv/bin/python ] || make install
"$HERE/setup.sh"
.venv/bin/python "$HERE/build_models.py"
.venv/bin/python "$HERE/run.py" "$@"
.venv/bin/python "$HERE/report.py"
