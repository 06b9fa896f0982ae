"""The benchmark: raw runtimes, Moorings and peer servers, interleaved rounds, one JSON line per result.

    .venv/bin/python benchmarks/run.py [--rounds 3] [--seconds 5] [--only mlp] [--quick]

Each server runs pinned to core 0 (``--server-cpus``), wrk to core 1 (``--client-cpus``).
Raw lines go to benchmarks/.work/results/<stamp>.jsonl; ``report.py`` turns them into RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bodies import BODIES, write_all  # noqa: E402
from benchmarks.build_models import model_dir  # noqa: E402
from benchmarks.proc import tree_cpu_seconds  # noqa: E402

VENVS = HERE / ".venvs"
WORK = HERE / ".work"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
LUA = HERE / "wrk" / "post.lua"


@dataclass
class Server:
    """One server configuration under test."""

    name: str  # e.g. moorings-rows-batched
    model: str  # mlp / mlp-tf / effnet
    server: str  # moorings / fastapi / mlserver / litserve
    protocol: str  # tfs-rows / tfs-columns / v2-json / v2-binary / peer-json
    batching: bool
    path: str
    body: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    headers: str = ""
    content_type: str = "application/json"
    cpus: str = ""
    client_cpus: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # JSON files written before start
    ready_path: str = ""  # GET until 200 before the first POST (Moorings: every front end started)
    grpc: tuple[str, str, str] | None = None  # (model, input, shape) for the gRPC load generator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def body_path(name: str) -> Path:
    for suffix in (".json", ".bin"):
        path = BODIES / f"{name}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(name)


def moorings(
    model: str,
    protocol: str,
    batching: bool,
    body: str,
    path: str,
    workers: int = 1,
    http_server: str = "",
    grpc_server: str = "",
    extra: tuple[str, ...] = (),
    suffix: str = "",
) -> Server:
    args = [str(ROOT / ".venv/bin/moorings"), "serve", str(model_dir(model).parent.parent), *extra]
    args += ["--rest-port", "{port}", "--grpc-port", "{port2}", "--log-level", "warning"]
    if http_server:
        args += ["--http-server", http_server]
    if grpc_server:
        args += ["--grpc-server", grpc_server]
    if not batching:
        args.append("--no-batching")
    if workers > 1:
        args += ["--workers", str(workers)]
    name = (
        f"moorings-{protocol}-{'batched' if batching else 'unbatched'}"
        + (f"-{workers}workers" if workers > 1 else "")
        + (f"-{http_server}" if http_server else "")
        + (f"-{grpc_server}" if grpc_server else "")
        + suffix
    )
    headers = ""
    content_type = "application/json"
    if protocol == "v2-binary":
        length = (BODIES / f"{body}.header-length").read_text()
        headers = f"Inference-Header-Content-Length: {length}"
        content_type = "application/octet-stream"
    return Server(name, model, "moorings", protocol, batching, path, body, args, headers=headers,
                  content_type=content_type, ready_path="/v2/health/ready")  # fmt: skip


def peers(model: str, onnx_file: Path, peer_body: str, v2_body: str) -> list[Server]:
    env = {"MODEL": str(onnx_file), "THREADS": "1"}
    fastapi = Server(
        "fastapi", model, "fastapi", "peer-json", False, "/predict", peer_body,
        [str(VENVS / "fastapi/bin/uvicorn"), "benchmarks.peers.fastapi_app:app", "--host", "127.0.0.1",
         "--port", "{port}", "--http", "httptools", "--loop", "uvloop", "--log-level", "warning",
         "--no-access-log"],
        env=env,
    )  # fmt: skip
    litserve = Server(
        "litserve", model, "litserve", "peer-json", False, "/predict", peer_body,
        [str(VENVS / "litserve/bin/python"), str(HERE / "peers/litserve_app.py")],
        env={**env, "PORT": "{port}"},
    )  # fmt: skip
    settings: dict[str, Any] = {
        "http_port": "{port}", "grpc_port": "{port2}", "metrics_port": "{port3}", "host": "127.0.0.1",
        "parallel_workers": 0, "debug": False, "metrics_endpoint": None,
    }  # fmt: skip
    model_settings = {"name": model, "implementation": "model.OnnxModel"}
    mlserver = Server(
        "mlserver", model, "mlserver", "v2-json", False, f"/v2/models/{model}/infer", v2_body,
        [str(VENVS / "mlserver/bin/mlserver"), "start", "{dir}"],
        env={**env, "PYTHONPATH": str(HERE / "peers/mlserver")},
        files={"settings.json": settings, "model-settings.json": model_settings},
    )  # fmt: skip
    return [s for s in (fastapi, mlserver, litserve) if Path(s.command[0]).exists()]


#: the MLP's JSON bodies whose numbers come in other spellings (bodies.py: NAME-4dp, NAME-f64)
MLP_JSON_BODIES = ("mlp-rows", "mlp-columns", "mlp-v2", "mlp-peer")


def other_numbers(mlp: list[Server], spelling: str) -> list[Server]:
    """The MLP's JSON routes (batched Moorings on its own front end, and every peer) again, sending the
    bodies whose numbers are spelled ``spelling`` (bodies.py), named NAME-SPELLING: a secondary row
    beside the headline one, which sends float32 ``tolist()`` numbers."""
    return [
        replace(s, name=f"{s.name}-{spelling}", body=f"{s.body}-{spelling}")
        for s in mlp
        if s.body in MLP_JSON_BODIES
        and s.grpc is None
        and (s.server != "moorings" or (s.batching and not s.name.endswith("-uvicorn")))
    ]


def configurations(only: set[str], quick: bool) -> list[Server]:
    out: list[Server] = []
    mlp_path, tf_path, eff_path = (
        "/v1/models/mlp:predict",
        "/v1/models/mlp-tf:predict",
        "/v1/models/effnet:predict",
    )
    if only & {"mlp", "mlp-4dp", "mlp-f64"}:
        mlp: list[Server] = []
        for batching in (True, False):
            mlp.append(moorings("mlp", "tfs-rows", batching, "mlp-rows", mlp_path))
        # the same server with uvicorn as its REST front end: what Moorings' own HTTP server buys
        mlp.append(moorings("mlp", "tfs-rows", True, "mlp-rows", mlp_path, http_server="uvicorn"))
        mlp.append(moorings("mlp", "tfs-columns", True, "mlp-columns", mlp_path))
        mlp.append(moorings("mlp", "v2-json", True, "mlp-v2", "/v2/models/mlp/infer"))
        mlp.append(moorings("mlp", "v2-binary", True, "mlp-v2-binary", "/v2/models/mlp/infer"))
        for grpc_server in ("", "moorings"):  # grpcio's front end, then Moorings' own HTTP/2 one
            grpc = moorings("mlp", "grpc", True, "mlp-rows", mlp_path, grpc_server=grpc_server)
            grpc.grpc = ("mlp", "x", "1x784")
            mlp.append(grpc)
        mlp += peers("mlp", model_dir("mlp") / "model.onnx", "mlp-peer", "mlp-v2")
        if "mlp" in only:
            out += mlp
        for spelling in ("4dp", "f64"):
            if f"mlp-{spelling}" in only:
                out += other_numbers(mlp, spelling)
    if "mlp-2cores" in only:
        two = moorings("mlp", "tfs-rows", True, "mlp-rows", mlp_path, workers=2)
        two.cpus, two.client_cpus = "0,1", "0,1"
        one = moorings("mlp", "tfs-rows", True, "mlp-rows", mlp_path)
        one.name, one.cpus, one.client_cpus = "moorings-tfs-rows-batched-1worker-2cores", "0,1", "0,1"
        out += [two, one]
    if "mlp-python" in only:  # the same model.onnx, served as ONNX and by a Python model's model.py
        for batching in (True, False):
            out.append(moorings("mlp", "tfs-rows", batching, "mlp-rows", mlp_path, suffix="-onnx"))
            python = moorings(
                "mlp-python", "tfs-rows", batching, "mlp-rows", "/v1/models/mlp-python:predict",
                extra=("--allow-python-models",), suffix="-python",
            )  # fmt: skip
            out.append(python)
        # LitServe running the same ONNX session in its LitAPI (issue 18: >= 10x its throughput)
        peer = peers("mlp", model_dir("mlp") / "model.onnx", "mlp-peer", "mlp-v2")
        out += [s for s in peer if s.server == "litserve"]
    if "mlp-tf" in only:
        for batching in (True, False):
            out.append(moorings("mlp-tf", "tfs-rows", batching, "mlp-rows", tf_path))
    if "effnet" in only and (model_dir("effnet") / "model.onnx").exists():
        for batching in (True, False):
            out.append(moorings("effnet", "tfs-rows", batching, "effnet-rows", eff_path))
        out.append(moorings("effnet", "v2-binary", True, "effnet-v2-binary", "/v2/models/effnet/infer"))
        out += peers("effnet", model_dir("effnet") / "model.onnx", "effnet-peer", "effnet-v2")
    return out


def start(server: Server, log_dir: Path, cpus: str) -> tuple[subprocess.Popen[bytes], int, int, Path]:
    """Start ``server`` pinned to ``cpus`` (its own setting wins)."""
    port, port2, port3 = free_port(), free_port(), free_port()
    folder = log_dir / f"{server.name}-{server.model}-{port}"
    folder.mkdir(parents=True, exist_ok=True)
    fill = {"{port}": str(port), "{port2}": str(port2), "{port3}": str(port3), "{dir}": str(folder)}

    def sub(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    for name, content in server.files.items():
        filled = {k: int(fill[v]) if isinstance(v, str) and v in fill else v for k, v in content.items()}
        (folder / name).write_text(json.dumps(filled))
    command = [sub(a) for a in server.command]
    if server.cpus or cpus:
        command = ["taskset", "-c", server.cpus or cpus, *command]
    env = {**os.environ, **{k: sub(v) for k, v in server.env.items()}, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = ":".join(p for p in (env.get("PYTHONPATH", ""), str(ROOT)) if p)
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    return process, port, port2, folder


def post_once(server: Server, port: int, timeout: float = 30) -> int:
    data = body_path(server.body).read_bytes()
    headers = {"Content-Type": server.content_type}
    if server.headers:
        key, value = server.headers.split(":", 1)
        headers[key.strip()] = value.strip()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{server.path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def wait_ready(server: Server, port: int, process: subprocess.Popen[bytes], timeout: float = 180) -> int:
    deadline = time.monotonic() + timeout
    while server.ready_path and time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{server.ready_path}", timeout=5) as response:
                if response.status == 200:
                    break
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return -1
        try:
            status = post_once(server, port)
            if status in (200, 404, 405, 400, 501) and status != 503:
                return status
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    return -2


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server and everything it started (its own session): SIGTERM, then SIGKILL what is left.

    Some servers leave children behind that ignore SIGTERM (a LitServe worker kept spinning at
    ~60 % of a core after its parent exited), which would tax every configuration measured after it.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _group_alive(process.pid):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def load(
    server: Server, port: int, grpc_port: int, concurrency: int, seconds: int, client_cpus: str
) -> dict[str, Any]:
    """Drive the server: wrk for HTTP; for gRPC h2load (or the Python generator without it).

    ``client_cpu_s``: the load generator's own CPU time (it shares the machine's cores).
    """
    before = _children_cpu_seconds()
    result = _drive(server, port, grpc_port, concurrency, seconds, client_cpus)
    result["client_cpu_s"] = _children_cpu_seconds() - before
    return result


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _drive(
    server: Server, port: int, grpc_port: int, concurrency: int, seconds: int, client_cpus: str
) -> dict[str, Any]:
    if server.grpc is None:
        return wrk(server, port, concurrency, seconds, client_cpus)
    model, name, shape = server.grpc
    # h2load (C) when installed: the Python generator costs more per call than the server does
    generator = "grpc_h2load.py" if shutil.which("h2load") else "grpc_load.py"
    command = [str(PROJECT_PYTHON), str(HERE / generator), str(grpc_port), model, name, shape,
               "-c", str(concurrency), "-d", str(seconds)]  # fmt: skip
    if client_cpus:
        command = ["taskset", "-c", client_cpus, *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads([x for x in out.splitlines() if x.startswith("{")][-1])
    result["generator"] = generator.removesuffix(".py")
    return result


def wrk(server: Server, port: int, concurrency: int, seconds: int, client_cpus: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "WRK_BODY": str(body_path(server.body)),
        "WRK_CONTENT_TYPE": server.content_type,
        "WRK_HEADERS": server.headers,
    }
    command = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA),
               f"http://127.0.0.1:{port}{server.path}"]  # fmt: skip
    if client_cpus:
        command = ["taskset", "-c", client_cpus, *command]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = [x for x in out.splitlines() if x.startswith("{")][-1]
    result: dict[str, Any] = json.loads(line)
    return result


def raw_throughput(model: str, seconds: float, cpus: str, sizes: str = "") -> dict[str, Any]:
    """``raw.py``'s rows/s per batch size for ``model`` (``sizes``: comma-separated, default per model)."""
    runtime = "tensorflow" if model == "mlp-tf" else "onnx"
    sizes = sizes or ("1,2,4,8,16" if model == "effnet" else "1,8,16,32,64,128")
    command = ["taskset", "-c", cpus, str(PROJECT_PYTHON), str(HERE / "raw.py"), runtime,
               str(model_dir(model)), "--sizes", sizes, "--seconds", str(seconds)]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    result: dict[str, Any] = json.loads([x for x in out.splitlines() if x.startswith("{")][-1])
    return result


def load_snapshot() -> dict[str, Any]:
    top = subprocess.run(["top", "-bn1"], capture_output=True, text=True).stdout.splitlines()
    busy = [line for line in top[7:] if line.split() and _cpu(line) >= 5.0]
    return {"loadavg": Path("/proc/loadavg").read_text().strip(), "top_busy": busy[:8]}


def _cpu(line: str) -> float:
    try:
        return float(line.split()[8])
    except (IndexError, ValueError):
        return 0.0


def show(r: dict[str, Any]) -> None:
    errors = sum(r[k] for k in r if k.endswith("errors") or k == "timeouts")
    cpu_us = r["server_cpu_s"] / max(r["requests"], 1) * 1e6
    client_us = r.get("client_cpu_s", 0) / max(r["requests"], 1) * 1e6
    print(
        f"round {r['round']} {r['name']:45s} {r['model']:7s} c={r['concurrency']:<3d} {r['rps']:8.0f} req/s "
        f" p50 {r['p50_us'] / 1000:7.2f} ms  p99 {r['p99_us'] / 1000:7.2f} ms  cpu {cpu_us:6.0f} us/req"
        f"  client {client_us:4.0f} us/req  errors {errors}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--only", default="mlp,mlp-4dp,mlp-f64,mlp-2cores,mlp-tf,effnet")
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--client-cpus", default="1")
    parser.add_argument(
        "--filter",
        default="",
        help="only configurations whose name contains this (or one of these, comma-separated)",
    )
    args = parser.parse_args()
    write_all()
    only = set(args.only.split(","))
    servers = [s for s in configurations(only, False) if any(f in s.name for f in args.filter.split(","))]
    levels = [int(c) for c in args.concurrency.split(",")]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = WORK / "results"
    results.mkdir(parents=True, exist_ok=True)
    out_path = results / f"{stamp}.jsonl"
    logs = WORK / "logs" / stamp
    print(f"writing {out_path}", flush=True)

    def emit(record: dict[str, Any]) -> None:
        with out_path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    emit({"kind": "meta", "argv": sys.argv, "started": stamp, "load": load_snapshot(),
          "commit": sha.stdout.strip()})  # fmt: skip
    models = sorted({s.model for s in servers})
    for round_no in range(args.rounds):
        for model in models:  # raw throughput, once per round too
            raw = raw_throughput(model, 2.0, args.server_cpus)
            emit({"kind": "raw", "round": round_no, "model": model, **raw})
            print(f"round {round_no} raw {model}: b1 {raw['rows_per_s']['1']:.0f}/s, "
                  f"best b{raw['best_batch']} {raw['best_rows_per_s']:.0f}/s", flush=True)  # fmt: skip
        order = servers[round_no % len(servers) :] + servers[: round_no % len(servers)]  # interleave
        for server in order:
            process, port, grpc_port, folder = start(server, logs, args.server_cpus)
            try:
                status = wait_ready(server, port, process)
                if status != 200:
                    emit({"kind": "unavailable", "round": round_no, "name": server.name,
                          "model": server.model, "status": status,
                          "log": str(folder / "server.log")})  # fmt: skip
                    print(
                        f"round {round_no} {server.name} {server.model}: not available ({status})", flush=True
                    )
                    continue
                client = server.client_cpus or args.client_cpus
                load(server, port, grpc_port, 8, 2, client)  # warm-up
                for level in levels:
                    before = tree_cpu_seconds(process.pid)
                    result = load(server, port, grpc_port, level, args.seconds, client)
                    cpu = tree_cpu_seconds(process.pid) - before
                    record = {
                        "kind": "served", "round": round_no, "name": server.name, "model": server.model,
                        "server": server.server, "protocol": server.protocol, "batching": server.batching,
                        "concurrency": level, "cpus": server.cpus or args.server_cpus, **result,
                        "server_cpu_s": cpu, "rps": result["requests"] / (result["duration_us"] / 1e6),
                    }  # fmt: skip
                    emit(record)
                    show(record)
            finally:
                stop(process)
    emit({"kind": "meta-end", "load": load_snapshot(), "ended": time.strftime("%Y%m%d-%H%M%S")})
    print(f"done: {out_path}")


if __name__ == "__main__":
    main()
