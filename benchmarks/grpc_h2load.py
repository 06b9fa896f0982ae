"""gRPC load from h2load (nghttp2's C load generator): KServe V2 ModelInfer over one HTTP/2 connection.

    taskset -c 1 .venv/bin/python benchmarks/grpc_h2load.py PORT MODEL INPUT ROWSxCOLS -c 32 -d 5

The Python generator (grpc_load.py) spends ~250-450 µs of CPU per call, so on
this machine it, not the server, sets the pace: a server served at a tenth of
its speed does less per wake-up and its CPU per request reads high. h2load
spends a few µs. It sends the same framed ``ModelInferRequest`` as a gRPC
client would (``content-type: application/grpc``, ``te: trailers``), with the
concurrency as streams on one connection (what one gRPC channel does).

h2load judges a reply by its HTTP status only, and gRPC errors travel in
trailers with HTTP 200; so before the load one call is made with grpcio's
client and its reply checked (status OK, the expected output), and after it
another. Prints one JSON line shaped like the wrk script's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc
import numpy as np
from tritonclient.grpc import service_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grpc_load import arguments, summary

METHOD = "/inference.GRPCInferenceService/ModelInfer"


def check(port: int, message: object) -> None:
    """One real gRPC call: it must succeed and return outputs."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(message, timeout=30)
    if not reply.outputs or not reply.raw_output_contents:
        raise SystemExit(f"the server's reply has no outputs: {reply}")


def run(port: int, message: object, concurrency: int, seconds: float) -> dict[str, int]:
    payload = message.SerializeToString()  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as folder:
        body, log = Path(folder) / "body", Path(folder) / "log"
        body.write_bytes(b"\x00" + len(payload).to_bytes(4, "big") + payload)
        command = [
            "h2load", "-t", "1", "-c", "1", "-m", str(concurrency), "-D", f"{seconds:g}",
            "-d", str(body), "-H", "content-type: application/grpc", "-H", "te: trailers",
            "--log-file", str(log), f"http://127.0.0.1:{port}{METHOD}",
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        rows = [line.split("\t") for line in log.read_text().splitlines() if line]
    statuses = [int(row[1]) for row in rows]
    latencies = np.array([int(row[2]) for row in rows if row[1] == "200"], dtype=float)
    finished = [line for line in out.splitlines() if line.startswith("finished in")]
    if not finished:
        raise SystemExit(f"h2load printed no result:\n{out}")
    elapsed = float(finished[0].split()[2].rstrip("s,"))
    return summary(latencies, int(elapsed * 1e6), sum(1 for s in statuses if s != 200))


def main() -> None:
    args = arguments()
    message = args.message
    check(args.port, message)
    result = run(args.port, message, args.concurrency, args.seconds)
    check(args.port, message)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
