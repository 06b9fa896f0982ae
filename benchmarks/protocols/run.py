"""REST JSON vs REST V2 binary vs gRPC (TF Serving Predict, KServe ModelInfer) on one ONNX MLP.

    python benchmarks/protocols/run.py [--seconds 5] [--rounds 3] [--server-cpu 0] [--client-cpu 1]

Starts ``moorings serve`` pinned with taskset to one core, pins itself to
another, and for each round runs every (protocol, concurrency) pair in turn
(rounds interleave, so drift hits every pair alike). For each pair it reports
the median over rounds of: requests/s, p50 and p99 latency, and the server's
CPU time per request (utime + stime of the server process from /proc, before
and after). Every answer is checked to be a success; answers are checked once
against the model's numpy reference before timing. Writes a JSON file and
prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.models import mlp  # noqa: E402
from benchmarks.proc import tree_cpu_seconds  # noqa: E402
from benchmarks.protocols import clients  # noqa: E402

MODEL = "mlp"
PROTOCOLS = ("rest-json", "rest-v2-binary", "grpc-tfserving", "grpc-kserve")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    repo: Path, cpu: str, rest: int, grpc_port: int, log: Path, extra: list[str]
) -> subprocess.Popen[bytes]:
    command = [
        "taskset", "-c", cpu, sys.executable, "-m", "moorings", "serve", str(repo),
        "--rest-port", str(rest), "--grpc-port", str(grpc_port), "--log-level", "warning", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    import urllib.request

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{rest}/v2/health/ready", timeout=2) as r:
                if r.status == 200:
                    return process
        except OSError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


async def check_answers(rest: int, grpc_target: str, x: np.ndarray) -> None:
    """One call per protocol, compared with the numpy reference, before any timing."""
    import grpc
    import orjson
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2
    from tritonclient.grpc import service_pb2

    want = mlp.reference(x)
    conn = clients.HttpConnection("127.0.0.1", rest)
    got = np.array(orjson.loads(await conn.post(clients.rest_json_request(MODEL, x)))["predictions"])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    body = await conn.post(clients.rest_v2_binary_request(MODEL, x))
    await conn.close()
    size = body.index(b"}]}") + 3  # the JSON header ends the outputs list
    header = orjson.loads(body[:size])
    got = np.frombuffer(body[size:], dtype="<f4").reshape(header["outputs"][0]["shape"])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    async with grpc.aio.insecure_channel(grpc_target) as channel:
        raw = await channel.unary_unary("/tensorflow.serving.PredictionService/Predict")(
            clients.tfserving_predict_message(MODEL, x)
        )
        response = predict_pb2.PredictResponse.FromString(raw)
        np.testing.assert_allclose(tf.make_ndarray(response.outputs["y"]), want, rtol=1e-4, atol=1e-6)
        raw = await channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")(
            clients.kserve_infer_message(MODEL, x)
        )
        infer = service_pb2.ModelInferResponse.FromString(raw)
        got = np.frombuffer(infer.raw_output_contents[0], dtype="<f4").reshape(want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


async def measure(
    protocol: str, concurrency: int, seconds: float, rest: int, grpc_target: str, x: np.ndarray, pid: int
) -> dict[str, float]:
    import grpc

    latencies: list[float] = []
    errors: list[str] = []
    stop_at = 0.0
    channel = None
    connections: list[clients.HttpConnection] = []
    if protocol.startswith("grpc"):
        channel = grpc.aio.insecure_channel(grpc_target)
        if protocol == "grpc-tfserving":
            message = clients.tfserving_predict_message(MODEL, x)
            call = clients.grpc_caller(channel, "/tensorflow.serving.PredictionService/Predict", message)
        else:
            message = clients.kserve_infer_message(MODEL, x)
            call = clients.grpc_caller(channel, "/inference.GRPCInferenceService/ModelInfer", message)
        calls = [call] * concurrency
    else:
        request = (
            clients.rest_json_request(MODEL, x)
            if protocol == "rest-json"
            else clients.rest_v2_binary_request(MODEL, x)
        )
        connections = [clients.HttpConnection("127.0.0.1", rest) for _ in range(concurrency)]

        def http_call(conn: clients.HttpConnection) -> clients.Call:
            async def call() -> None:
                await conn.post(request)

            return call

        calls = [http_call(c) for c in connections]

    async def worker(call: clients.Call, record: bool) -> None:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                await call()
            except Exception as exc:
                errors.append(str(exc)[:200])
                continue
            if record:
                latencies.append(time.perf_counter() - start)

    stop_at = time.perf_counter() + 1.0  # warm-up: connections, batcher, caches
    await asyncio.gather(*(worker(c, False) for c in calls))
    cpu_before = tree_cpu_seconds(pid)
    began = time.perf_counter()
    stop_at = began + seconds
    await asyncio.gather(*(worker(c, True) for c in calls))
    elapsed = time.perf_counter() - began
    cpu = tree_cpu_seconds(pid) - cpu_before
    for conn in connections:
        await conn.close()
    if channel is not None:
        await channel.close()
    if errors:
        raise RuntimeError(f"{protocol} c={concurrency}: {len(errors)} errors, first: {errors[0]}")
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / elapsed,
        "p50_ms": latencies[n // 2] * 1e3,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3,
        "server_cpu_us": cpu / n * 1e6,
        "requests": n,
    }


async def run(
    args: argparse.Namespace, rest: int, grpc_target: str, pid: int
) -> dict[str, list[dict[str, float]]]:
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    await check_answers(rest, grpc_target, x)
    results: dict[str, list[dict[str, float]]] = {}
    for round_no in range(args.rounds):
        for protocol in args.protocols:
            for concurrency in args.concurrency:
                r = await measure(protocol, concurrency, args.seconds, rest, grpc_target, x, pid)
                results.setdefault(f"{protocol} c={concurrency}", []).append(r)
                print(
                    f"round {round_no + 1} {protocol:15s} c={concurrency:<3d} {r['rps']:8.0f} req/s "
                    f"p50 {r['p50_ms']:6.2f} ms p99 {r['p99_ms']:6.2f} ms "
                    f"server {r['server_cpu_us']:6.0f} us/req",
                    flush=True,
                )
    return results


def table(results: dict[str, list[dict[str, float]]]) -> str:
    lines = [
        "| protocol | concurrency | req/s | p50 ms | p99 ms | server CPU µs/req | req/s spread (rounds) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, rounds in results.items():
        protocol, c = key.split(" c=")
        med = {
            k: statistics.median(r[k] for r in rounds) for k in ("rps", "p50_ms", "p99_ms", "server_cpu_us")
        }
        rps = [r["rps"] for r in rounds]
        spread = (max(rps) - min(rps)) / med["rps"] * 100
        lines.append(
            f"| {protocol} | {c} | {med['rps']:.0f} | {med['p50_ms']:.2f} | {med['p99_ms']:.2f} "
            f"| {med['server_cpu_us']:.0f} | ±{spread / 2:.0f}% |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument(
        "--server-args", default="", help="more `moorings serve` arguments, e.g. '--no-batching'"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()

    os.sched_setaffinity(0, {int(c) for c in args.client_cpu.split(",")})
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        mlp.write_onnx(repo / MODEL / "1")
        rest, grpc_port = free_port(), free_port()
        server = start_server(
            repo, args.server_cpu, rest, grpc_port, Path(tmp) / "server.log", args.server_args.split()
        )
        try:
            import uvloop

            results = uvloop.run(run(args, rest, f"127.0.0.1:{grpc_port}", server.pid))
        finally:
            server.terminate()
            server.wait(30)
    summary = {
        "command": " ".join(["python", *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "results": results,
    }
    args.out.write_text(json.dumps(summary, indent=1))
    print()
    print(table(results))


if __name__ == "__main__":
    main()
