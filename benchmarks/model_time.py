"""How much of a served request is the model call itself, against the same call run raw.

    .venv/bin/python benchmarks/model_time.py [--only effnet] [--filter moorings-v2-binary-batched] \
        [--concurrency 32] [--seconds 8] [--rounds 3]

Starts one Moorings configuration of ``run.py`` (pinned to core 0, wrk on core 1) with
``model_timer/`` on its PYTHONPATH, which times every model call the batcher makes (thread CPU
inside the call). For each round: the server's whole CPU per request under load, the model calls'
CPU per row and rows per call in the same window, and then ``raw.py`` at that batch size on the
same core. Served ÷ raw then splits into the model call's own speed inside the server (model
call ÷ raw call) and what the server spends around it (everything outside the model call:
sockets, HTTP, the request path, copies, the hand-off to the batch thread).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bodies import write_all  # noqa: E402
from benchmarks.paired import pick  # noqa: E402
from benchmarks.proc import tree_cpu_seconds  # noqa: E402
from benchmarks.run import WORK, Server, load, raw_throughput, start, stop, wait_ready  # noqa: E402


def model_totals(pid: int, path: Path) -> dict[str, float]:
    """Ask the server's timer (SIGUSR1) for its totals so far."""
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the server did not write its model-call totals (is model_timer loaded?)")
        time.sleep(0.05)
    totals: dict[str, float] = json.loads(path.read_text())
    return totals


def one_round(server: Server, args: argparse.Namespace, times: Path) -> dict[str, Any]:
    server.env = {**server.env, "MOORINGS_MODEL_TIMES": str(times),
                  "PYTHONPATH": str(HERE / "model_timer")}  # fmt: skip
    process, port, grpc_port, _ = start(server, WORK / "logs" / "model-time", args.server_cpus)
    try:
        if wait_ready(server, port, process) != 200:
            raise SystemExit(f"{server.name} did not answer 200; see its log under .work/logs/model-time")
        load(server, port, grpc_port, args.concurrency, 2, args.client_cpus)  # warm-up
        before, cpu = model_totals(process.pid, times), tree_cpu_seconds(process.pid)
        result = load(server, port, grpc_port, args.concurrency, args.seconds, args.client_cpus)
        cpu = tree_cpu_seconds(process.pid) - cpu
        after = model_totals(process.pid, times)
    finally:
        stop(process)
    calls = after["calls"] - before["calls"]
    rows = after["rows"] - before["rows"]
    requests = result["requests"]
    batch = max(1, round(rows / calls))
    raw = 1 / float(raw_throughput(server.model, 3.0, args.server_cpus, str(batch))["best_rows_per_s"])
    served = cpu / requests  # one row per request in the benchmark's bodies
    model = (after["cpu_s"] - before["cpu_s"]) / rows
    return {"rps": requests / (result["duration_us"] / 1e6), "rows_per_call": rows / calls, "batch": batch,
            "served_us": served * 1e6, "model_us": model * 1e6, "raw_us": raw * 1e6,
            "outside_us": (served - model) * 1e6}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="effnet")
    parser.add_argument("--filter", default="moorings-v2-binary-batched")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--client-cpus", default="1")
    args = parser.parse_args()
    write_all()
    (server,) = pick(set(args.only.split(",")), [args.filter])
    times = WORK / "model-times.json"
    rows = []
    print(f"{server.name} on {server.model}, c={args.concurrency}; µs of one core per row (request)")
    print("round  req/s  rows/call  served  model call  raw call  outside  served÷raw  model÷raw")
    for round_no in range(args.rounds):
        r = one_round(server, args, times)
        rows.append(r)
        cells = f"{r['served_us']:6.0f}  {r['model_us']:10.0f}  {r['raw_us']:8.0f}  {r['outside_us']:7.0f}"
        ratios = f"{r['raw_us'] / r['served_us']:10.1%}  {r['model_us'] / r['raw_us']:9.1%}"
        print(f"{round_no:5}  {r['rps']:5.0f}  {r['rows_per_call']:9.2f}  {cells}  {ratios}", flush=True)
    keys = ("served_us", "model_us", "raw_us", "outside_us")
    median = {k: statistics.median(r[k] for r in rows) for k in keys}
    print(f"median: served {median['served_us']:.0f}, model call {median['model_us']:.0f}, raw "
          f"{median['raw_us']:.0f}, outside the model {median['outside_us']:.0f} µs per row; "
          f"served ÷ raw {statistics.median(r['raw_us'] / r['served_us'] for r in rows):.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
