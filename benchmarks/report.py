"""Turn one run's JSON lines into benchmarks/RESULTS.md: medians over rounds, noise, ratios, goals.

.venv/bin/python benchmarks/report.py [benchmarks/.work/results/<stamp>.jsonl]   (default: the newest)
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / ".work" / "results"
VENVS = HERE / ".venvs"

Record = dict[str, Any]


def load(path: Path) -> list[Record]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def noise(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    m = med(values)
    return f"±{(max(values) - min(values)) / 2 / m * 100:.0f}%" if m else "n/a"


def version(python: Path, package: str) -> str:
    if not python.exists():
        return "not installed"
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return out.stdout.strip() or "not installed"


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        "unknown CPU",
    )  # fmt: skip
    return f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}"


class Summary:
    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.meta = next((r for r in records if r["kind"] == "meta"), {})
        self.end = next((r for r in records if r["kind"] == "meta-end"), {})
        self.raw: dict[str, list[Record]] = defaultdict(list)
        self.cells: dict[tuple[str, str, int], list[Record]] = defaultdict(list)
        self.unavailable: dict[tuple[str, str], Record] = {}
        for r in records:
            if r["kind"] == "raw":
                self.raw[r["model"]].append(r)
            elif r["kind"] == "served":
                self.cells[(r["model"], r["name"], r["concurrency"])].append(r)
            elif r["kind"] == "unavailable":
                self.unavailable[(r["model"], r["name"])] = r

    def raw_best(self, model: str) -> float:
        return med([r["best_rows_per_s"] for r in self.raw.get(model, [])])

    def raw_b1(self, model: str) -> float:
        return med([r["rows_per_s"]["1"] for r in self.raw.get(model, [])])

    def rps(self, model: str, name: str, c: int) -> float:
        return med([r["rps"] for r in self.cells.get((model, name, c), [])])

    def cpu_us(self, model: str, name: str, c: int) -> float:
        return self._per_request_us(model, name, c, "server_cpu_s")

    def client_us(self, model: str, name: str, c: int) -> float:
        """The load generator's CPU per request (runs from before it was recorded have none)."""
        return self._per_request_us(model, name, c, "client_cpu_s")

    def _per_request_us(self, model: str, name: str, c: int, key: str) -> float:
        cells = [r for r in self.cells.get((model, name, c), []) if key in r]
        return med([r[key] / max(r["requests"], 1) * 1e6 for r in cells])

    def lat(self, model: str, name: str, c: int, key: str) -> float:
        return med([r[key] / 1000 for r in self.cells.get((model, name, c), [])])

    def names(self, model: str) -> list[str]:
        seen: dict[str, None] = {}
        for m, name, _ in self.cells:
            if m == model:
                seen[name] = None
        return list(seen)

    def levels(self) -> list[int]:
        return sorted({c for _, _, c in self.cells})


def fmt(value: float, digits: int = 0) -> str:
    if value != value:  # nan
        return "—"
    return f"{value:,.{digits}f}"


def served_table(s: Summary, model: str) -> list[str]:
    raw = s.raw_best(model)
    lines = [
        "| configuration | c | req/s (median) | noise | p50 ms | p99 ms | server CPU µs/req "
        "| served ÷ raw best |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in s.names(model):
        for c in s.levels():
            cells = s.cells.get((model, name, c))
            if not cells:
                continue
            rps = s.rps(model, name, c)
            lines.append(
                f"| {name} | {c} | {fmt(rps)} | {noise([r['rps'] for r in cells])} | "
                f"{fmt(s.lat(model, name, c, 'p50_us'), 2)} | {fmt(s.lat(model, name, c, 'p99_us'), 2)} | "
                f"{fmt(s.cpu_us(model, name, c))} | {fmt(rps / raw * 100 if raw else float('nan'), 1)}% |"
            )
    for (m, name), r in s.unavailable.items():
        if m == model:
            lines.append(f"| {name} | — | not available (status {r['status']}) | | | | | |")
    return lines


def best_over(s: Summary, model: str, names: list[str], c: int) -> tuple[str, float]:
    values = [(n, s.rps(model, n, c)) for n in names if (model, n, c) in s.cells]
    return max(values, key=lambda x: x[1]) if values else ("—", float("nan"))


def goals(s: Summary) -> list[str]:
    rows = ["| goal | measured | met? |", "|---|---|---|"]

    def add(goal: str, measured: str, ok: bool | str | None) -> None:
        verdict = ok if isinstance(ok, str) else "yes" if ok else "no" if ok is not None else "not measured"
        rows.append(f"| {goal} | {measured} | {verdict} |")

    m = "mlp"
    ours = "moorings-tfs-rows-batched"
    r = s.rps(m, ours, 32)
    cpu = s.cpu_us(m, ours, 32)
    p99 = s.lat(m, ours, 32, "p99_us")
    add("MLP REST JSON, 1 core, c=32: ≥ 8,000 req/s", f"{fmt(r)} req/s", r >= 8000)
    add("… at ≤ 120 µs server CPU per request", f"{fmt(cpu)} µs", cpu <= 120)
    add("… p99 ≤ 10 ms", f"{fmt(p99, 2)} ms", p99 <= 10)
    for peer, factor in (("fastapi", 3), ("mlserver", 5), ("litserve", 15)):
        pr = s.rps(m, peer, 32)
        ratio = r / pr if pr == pr and pr else float("nan")
        add(
            f"… ≥ {factor}x {peer}",
            f"{fmt(ratio, 2)}x ({fmt(pr)} req/s)",
            ratio >= factor if ratio == ratio else None,
        )
    # the headline MLP rows send float32 tolist() numbers (bodies.py); -4dp rows the 4-decimal ones
    fastapi = s.rps(m, "fastapi", 32)
    for proto, name, factor in (("TFS JSON", ours, 3), ("V2 JSON", "moorings-v2-json-batched", 2.5)):
        ratio = s.rps(m, name, 32) / fastapi if fastapi == fastapi and fastapi else float("nan")
        add(f"float32 tolist() bodies, c=32: {proto} ≥ {factor}x fastapi",
            f"{fmt(ratio, 2)}x at {fmt(s.cpu_us(m, name, 32))} µs server CPU",
            ratio >= factor if ratio == ratio else None)  # fmt: skip
    add("… TFS JSON server CPU ≤ 100 µs per request", f"{fmt(cpu)} µs", cpu <= 100)
    for name in (ours, "moorings-v2-json-batched"):
        short = f"{name}-4dp"
        if (m, short, 32) in s.cells:
            add(f"(for scale) 4-decimal bodies, {short}, c=32",
                f"{fmt(s.rps(m, short, 32))} req/s at {fmt(s.cpu_us(m, short, 32))} µs", "—")  # fmt: skip
    uvicorn = "moorings-tfs-rows-batched-uvicorn"
    ur, ucpu = s.rps(m, uvicorn, 32), s.cpu_us(m, uvicorn, 32)
    if ur == ur:
        add("(for scale, not a goal) the same server on uvicorn instead of its own HTTP/1.1 server, c=32",
            f"{fmt(ur)} req/s at {fmt(ucpu)} µs: own server {fmt(r / ur, 2)}x the req/s", "—")  # fmt: skip
    two_name = "moorings-tfs-rows-batched-2workers"
    two = s.rps(m, two_name, 32)
    server_us, client_us = s.cpu_us(m, two_name, 32), s.client_us(m, two_name, 32)
    bound = ""
    if client_us == client_us:  # the machine's two cores run the server and wrk both
        bound = (f"; the two cores also run wrk: {fmt(server_us)} µs server + {fmt(client_us)} µs wrk "
                 f"per request, so at most {fmt(2e6 / (server_us + client_us))} req/s")  # fmt: skip
    add(
        "MLP on two cores (2 workers), c=32: ≥ 14,000 req/s",
        f"{fmt(two)} req/s{bound}",
        two >= 14000 if two == two else None,
    )
    p50 = s.lat(m, ours, 1, "p50_us")
    add("c=1: p50 ≤ 0.25 ms", f"{fmt(p50, 3)} ms", p50 <= 0.25 if p50 == p50 else None)
    for proto, name in (
        ("v2-binary", "moorings-v2-binary-batched"),
        ("grpc", "moorings-grpc-batched"),
        ("grpc (own HTTP/2 front end)", "moorings-grpc-batched-moorings"),
    ):
        other = s.cpu_us(m, name, 32)
        if other != other and proto.startswith("grpc ("):
            continue  # runs from before that front end existed
        cut = (1 - other / cpu) * 100 if other == other and cpu == cpu else float("nan")
        add(f"{proto}: CPU/request ≥ 30% below REST JSON (c=32)", f"{fmt(cut, 0)}% below ({fmt(other)} µs)",
            cut >= 30 if cut == cut else None)  # fmt: skip
    e = "effnet"
    if s.raw.get(e):
        raw = s.raw_best(e)
        names = [n for n in s.names(e) if n.startswith("moorings") and "unbatched" not in n]
        best_name, best = max(
            ((n, max(s.rps(e, n, c) for c in s.levels())) for n in names), key=lambda x: x[1]
        )
        add("EfficientNet batched: ≥ 90% of raw best-batch images/s",
            f"{fmt(best / raw * 100, 1)}% ({fmt(best, 1)} of {fmt(raw, 1)} img/s, {best_name})",
            best / raw >= 0.9)  # fmt: skip
        peers = [n for n in s.names(e) if not n.startswith("moorings")]
        if peers:
            peer_best = max(max(s.rps(e, n, c) for c in s.levels()) for n in peers)
            add("… ≥ 1.5x the best peer", f"{fmt(best / peer_best, 2)}x ({fmt(peer_best, 1)} img/s)",
                best / peer_best >= 1.5)  # fmt: skip
    t = "mlp-tf"
    batched, unbatched = "moorings-tfs-rows-batched", "moorings-tfs-rows-unbatched"
    b, u = s.rps(t, batched, 32), s.rps(t, unbatched, 32)
    if b == b and u == u:
        bcpu, ucpu = s.cpu_us(t, batched, 32), s.cpu_us(t, unbatched, 32)
        add("TF SavedModel MLP, c=32: batched ≥ 10x unbatched",
            f"{fmt(b / u, 1)}x ({fmt(b)} vs {fmt(u)} req/s); on one core the ratio is bounded by the CPU "
            f"per request, unbatched ÷ batched: {fmt(ucpu)} ÷ {fmt(bcpu)} µs = {fmt(ucpu / bcpu, 1)}x",
            b / u >= 10)  # fmt: skip
    return rows


def render(s: Summary, sources: list[Path]) -> str:
    project = ROOT / ".venv/bin/python"
    out = [
        "Raw data: " + ", ".join(f"`{p.relative_to(ROOT)}`" for p in sources) + " (git-ignored). "
        f"Produced by `benchmarks/run.sh` (`{' '.join(s.meta.get('argv', []))}`), then "
        f"`benchmarks/report.py`.",
        "",
        "## Machine and versions",
        "",
        f"- {machine()}",
        f"- moorings at commit {s.meta.get('commit') or _git_sha()} (working tree as of the run's start, "
        f"{s.meta.get('started', '?')}); onnxruntime {version(project, 'onnxruntime')}, tensorflow "
        f"{version(project, 'tensorflow')}, uvicorn {version(project, 'uvicorn')}, "
        f"httptools {version(project, 'httptools')}, uvloop {version(project, 'uvloop')}, "
        f"orjson {version(project, 'orjson')}",
        f"- peers: fastapi {version(VENVS / 'fastapi/bin/python', 'fastapi')}, "
        f"mlserver {version(VENVS / 'mlserver/bin/python', 'mlserver')} (httptools "
        f"{version(VENVS / 'mlserver/bin/python', 'httptools')}), "
        f"litserve {version(VENVS / 'litserve/bin/python', 'litserve')}",
        f"- load generator: {_wrk_version()}, one thread, pinned to core 1; servers pinned to core 0",
        f"- load average at start: `{s.meta.get('load', {}).get('loadavg', '?')}`, at end: "
        f"`{s.end.get('load', {}).get('loadavg', '?')}`",
        "",
        "## Goals (issue #4)",
        "",
        *goals(s),
        "",
        "## Raw in-process throughput (one core, 1 intra-op thread)",
        "",
        "| model | batch 1 rows/s | best batch rows/s | noise (best) |",
        "|---|---:|---:|---:|",
    ]
    for model, recs in sorted(s.raw.items()):
        best = recs[0]["best_batch"]
        out.append(
            f"| {model} | {fmt(s.raw_b1(model))} | {fmt(s.raw_best(model))} (batch {best}) | "
            f"{noise([r['best_rows_per_s'] for r in recs])} |"
        )
    for model in ("mlp", "mlp-tf", "effnet"):
        if any(m == model for m, _, _ in s.cells):
            out += ["", f"## Served: {model}", "", *served_table(s, model)]
    return "\n".join(out) + "\n"


def _git_sha() -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return out.stdout.strip()


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (out.stdout + out.stderr).splitlines()[0].split(" Copyright")[0]


START, END = "<!-- generated:start -->", "<!-- generated:end -->"


META = ("meta", "meta-end")


def _measured(record: Record) -> tuple[object, ...]:
    """What a record measures: a served configuration of a model, or a model's raw throughput."""
    if record["kind"] == "served":
        return (record.get("model"), record.get("name"))
    return (record.get("model"), record["kind"])


def merge(paths: list[Path]) -> list[Record]:
    """Records of several runs; a later run replaces what earlier runs measured of the same
    configurations (and raw models), and its start/end lines (machine, commit) replace theirs."""
    records: list[Record] = []
    for path in paths:
        new = load(path)
        replaced = {_measured(r) for r in new if r["kind"] not in META}
        new_meta = any(r["kind"] in META for r in new)
        kept = [r for r in records if r["kind"] not in META and _measured(r) not in replaced]
        meta = [r for r in records if r["kind"] in META and not new_meta]
        records = meta + kept + new
    return records


def main() -> None:
    """Replace the generated part of RESULTS.md; the hand-written analysis around it stays.

    Arguments: result files (default: the newest); a later file replaces the models it measured.
    """
    paths = [Path(p).resolve() for p in sys.argv[1:]] or [max(RESULTS.glob("*.jsonl"))]
    text = render(Summary(merge(paths)), paths)
    target = HERE / "RESULTS.md"
    current = target.read_text() if target.exists() else f"{START}\n{END}\n"
    if START not in current or END not in current:
        current += f"\n{START}\n{END}\n"
    head, rest = current.split(START, 1)
    _, tail = rest.split(END, 1)
    target.write_text(f"{head}{START}\n{text}{END}{tail}")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
