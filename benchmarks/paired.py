"""Paired comparison of a few configurations: all started at once, loaded in short alternating windows.

    .venv/bin/python benchmarks/paired.py --filter moorings-tfs-rows-batched,moorings-v2-binary \
        [--only mlp] [--concurrency 32] [--windows 12] [--seconds 2]

``run.py`` measures one configuration after another for several seconds each; on this shared
machine the speed of the core can change by 2x between two such measurements, which hides a
10-20 % difference between two configurations. Here every configuration is started once (each
pinned to the server core, idle while the others are loaded), then the load goes round them in
short windows, ``--windows`` times, starting each round with the next configuration. Each
window's server CPU per request is divided by the first configuration's in the same round, so a
slow stretch of the machine cancels out; the report gives the median of those ratios and their
spread. Configuration names as in ``run.py`` (``--filter`` matches them the same way; the first
one named is the reference).

``--variant LABEL=ARGS`` (repeatable) also starts every chosen Moorings configuration with ARGS
added to its command line, named ``NAME[LABEL]``: the same route with and without a setting,
e.g. ``--filter moorings-v2-binary-batched --variant "gc700=--gc-threshold 700"``.

``--tree LABEL=PATH`` (repeatable) also starts every chosen Moorings configuration from the
source tree at PATH (its ``src/`` first on PYTHONPATH; e.g. a ``git worktree`` of an older commit,
with its C helper built), named ``NAME[LABEL]``: two versions of the code, side by side.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bodies import write_all  # noqa: E402
from benchmarks.proc import tree_cpu_seconds  # noqa: E402
from benchmarks.run import WORK, configurations, load, start, stop, wait_ready  # noqa: E402


def pick(only: set[str], names: list[str]) -> list[Any]:
    """The configurations matching each filter entry, in the order the entries are given."""
    every = configurations(only, False)
    chosen = []
    for name in names:
        matching = [s for s in every if s.name == name] or [s for s in every if name in s.name]
        if not matching:
            raise SystemExit(f"no configuration matches {name!r}; known: {', '.join(s.name for s in every)}")
        if matching[0] not in chosen:
            chosen.append(matching[0])
    return chosen


def with_trees(servers: list[Any], trees: list[str]) -> list[Any]:
    """The servers, then for each ``LABEL=PATH`` a copy of every Moorings one run from PATH's src/."""
    out = list(servers)
    for tree in trees:
        label, sep, path = tree.partition("=")
        source = Path(path).resolve() / "src"
        if not sep or not label or not (source / "moorings").is_dir():
            raise SystemExit(f"--tree takes LABEL=PATH of a Moorings checkout, got {tree!r}")
        for server in servers:
            if server.server == "moorings" and "[" not in server.name:  # variants stay on this tree
                env = {**server.env, "PYTHONPATH": str(source)}
                out.append(dataclasses.replace(server, name=f"{server.name}[{label}]", env=env))
    return out


def with_variants(servers: list[Any], variants: list[str]) -> list[Any]:
    """The servers, then for each ``LABEL=ARGS`` a copy of every Moorings one with ARGS added."""
    out = list(servers)
    for variant in variants:
        label, sep, extra = variant.partition("=")
        if not sep or not label:
            raise SystemExit(f"--variant takes LABEL=ARGS, got {variant!r}")
        for server in servers:
            if server.server == "moorings":
                out.append(
                    dataclasses.replace(
                        server, name=f"{server.name}[{label}]", command=[*server.command, *shlex.split(extra)]
                    )
                )
    return out


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    quarter = max(len(ordered) // 4, 0)
    return (
        f"median {statistics.median(ordered):.3f} "
        f"(middle half {ordered[quarter]:.3f}-{ordered[-1 - quarter]:.3f}, n={len(ordered)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--filter", required=True, help="configuration names, comma-separated; the first is the reference"
    )
    parser.add_argument("--variant", action="append", default=[], help="LABEL=ARGS: see the module doc")
    parser.add_argument("--tree", action="append", default=[], help="LABEL=PATH: see the module doc")
    parser.add_argument("--only", default="mlp")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--client-cpus", default="1")
    args = parser.parse_args()
    write_all()
    chosen = pick(set(args.only.split(",")), args.filter.split(","))
    servers = with_trees(with_variants(chosen, args.variant), args.tree)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_path = WORK / "results" / "paired" / f"{stamp}.jsonl"  # not beside run.py's: report.py reads those
    out_path.parent.mkdir(parents=True, exist_ok=True)
    logs = WORK / "logs" / f"paired-{stamp}"
    running = []
    try:
        for server in servers:
            process, port, grpc_port, _ = start(server, logs, args.server_cpus)
            running.append((server, process, port, grpc_port))
        for server, process, port, grpc_port in running:
            if wait_ready(server, port, process) != 200:
                raise SystemExit(f"{server.name} did not start; see {logs}")
            load(server, port, grpc_port, 8, 2, server.client_cpus or args.client_cpus)  # warm-up
        ratios: dict[str, list[float]] = {s.name: [] for s in servers[1:]}
        rates: dict[str, list[float]] = {s.name: [] for s in servers[1:]}
        p50s: dict[str, list[float]] = {s.name: [] for s in servers}
        for window in range(args.windows):
            shift = window % len(running)
            cpu_per_request: dict[str, float] = {}
            rps: dict[str, float] = {}
            for server, process, port, grpc_port in running[shift:] + running[:shift]:
                before = tree_cpu_seconds(process.pid)
                result = load(server, port, grpc_port, args.concurrency, args.seconds,
                              server.client_cpus or args.client_cpus)  # fmt: skip
                cpu = tree_cpu_seconds(process.pid) - before
                cpu_per_request[server.name] = cpu / max(result["requests"], 1) * 1e6
                rps[server.name] = result["requests"] / (result["duration_us"] / 1e6)
                p50s[server.name].append(result["p50_us"])
                with out_path.open("a") as f:
                    f.write(
                        json.dumps({"window": window, "name": server.name, "server_cpu_s": cpu, **result})
                        + "\n"
                    )
            reference = servers[0].name
            line = [f"window {window:2d}"]
            for name, value in cpu_per_request.items():
                line.append(f"{name} {value:5.0f} us/req {rps[name]:7.0f} req/s")
                if name != reference:
                    ratios[name].append(value / cpu_per_request[reference])
                    rates[name].append(rps[name] / rps[reference])
            print(" | ".join(line), flush=True)
        print(f"\nserver CPU per request, each window divided by {servers[0].name}'s in the same window:")
        for name in ratios:
            print(f"  {name}: {summary(ratios[name])}; req/s ratio {summary(rates[name])}")
        print(
            "median p50 latency: "
            + ", ".join(f"{n} {statistics.median(v) / 1000:.3f} ms" for n, v in p50s.items())
        )
        print(f"raw windows: {out_path}")
    finally:
        for _, process, _, _ in running:
            stop(process)


if __name__ == "__main__":
    main()
