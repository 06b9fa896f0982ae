#!/usr/bin/env bash
# Instructions per request of the whole request path, counted by valgrind (callgrind): a measure
# that does not move with the machine's load, for comparing two versions of the code.
#
#     benchmarks/instructions.sh [SMALL [LARGE]] [-- PROFILE_APP_ARGS...]   (defaults 300 and 1300)
#
# e.g. the KServe V2 binary route: benchmarks/instructions.sh -- --body mlp-v2-binary
#   --path /v2/models/mlp/infer --header inference-header-content-length:$(cat
#   benchmarks/.work/bodies/mlp-v2-binary.header-length)
#
# Runs benchmarks/profile_app.py --through-http1 (real HTTP/1.1 connections, batching, the MLP)
# under callgrind twice, with SMALL and LARGE requests, and prints (total(LARGE) - total(SMALL)) /
# (LARGE - SMALL) per shared object: start-up cancels out. Needs valgrind (apt install valgrind);
# each run takes a few minutes. Counts include spinning threads of the runtimes, so compare the
# libpython/_jsonnum/uvloop lines rather than onnxruntime's.
set -euo pipefail
small=300
large=1300
[[ $# -gt 0 && $1 != -- ]] && { small=$1; shift; }
[[ $# -gt 0 && $1 != -- ]] && { large=$1; shift; }
[[ $# -gt 0 && $1 == -- ]] && shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=$(mktemp -d)
for n in "$small" "$large"; do
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$n" \
    "$root/.venv/bin/python" "$here/profile_app.py" --through-http1 --requests "$n" "$@" >"$out/log.$n" 2>&1 &
done
wait
for n in "$small" "$large"; do
  callgrind_annotate --threshold=100 --show-percs=no "$out/cg.$n" >"$out/flat.$n"
done
"$root/.venv/bin/python" - "$out/flat.$small" "$out/flat.$large" "$small" "$large" <<'PY'
import re
import sys


def per_object(path: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in open(path):
        match = re.match(r"\s*([\d,]+)\s+(.*)$", line)
        if not match:
            continue
        count, rest = int(match.group(1).replace(",", "")), match.group(2)
        if "PROGRAM TOTALS" in rest:
            totals["all"] = count
            continue
        obj = re.search(r"\[([^\]]*)\]\s*$", rest)
        if obj:
            name = obj.group(1).split("/")[-1]
            totals[name] = totals.get(name, 0) + count
    return totals


small, large = per_object(sys.argv[1]), per_object(sys.argv[2])
requests = int(sys.argv[4]) - int(sys.argv[3])
rows = sorted(large, key=lambda k: -(large[k] - small.get(k, 0)))
print(f"instructions per request ({requests} requests' difference):")
for name in rows:
    per_request = (large[name] - small.get(name, 0)) / requests
    if abs(per_request) >= 100:
        print(f"{per_request:>12,.0f}  {name}")
PY
rm -rf "$out"
