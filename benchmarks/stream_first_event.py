"""Time to the first server-sent event against the model's own time to its first result.

    .venv/bin/python benchmarks/stream_first_event.py [--requests 300] [--first-ms 5] [--http-server moorings]

Serves one streaming Python model whose generator sleeps ``--first-ms`` before its first result
(its "first-token time", timed inside the generator and written to a log the script reads), then
yields four more at once. A client on one connection at a time (raw sockets, one request after
another, no concurrency) sends ``generate_stream`` requests and times, per request, from the
request's first byte sent to the first ``data:`` line received. The overhead is that time minus
the model's own first-result time of the same request. The server is pinned to core 0, this
client to core 1 (``taskset``), as in ``run.py``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

MODEL = """
import time


class Writer:
    inputs = {{"n": {{"dtype": "int64", "shape": [-1]}}}}
    outputs = {{"token": {{"dtype": "int64", "shape": [-1]}}}}

    def stream(self, inputs):
        started = time.perf_counter()
        time.sleep({first_s!r})
        with open({log!r}, "a") as log:
            log.write(f"{{(time.perf_counter() - started) * 1e6:.0f}}\\n")
        for i in range(5):
            yield {{"token": inputs["n"] + i}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def first_event(port: int, body: bytes) -> float:
    """Seconds from sending the request to the first event's line; the rest of the stream is read."""
    request = (
        b"POST /v2/models/writer/generate_stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = b""
        start = time.perf_counter()
        sock.sendall(request)
        while b"data: " not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"closed before an event: {data[:300]!r}")
            data += chunk
        took = time.perf_counter() - start
        while sock.recv(65536):
            pass
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--first-ms", type=float, default=5.0)
    parser.add_argument("--http-server", default="moorings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "first-result-us.log"
        folder = Path(tmp) / "repo" / "writer" / "1"
        folder.mkdir(parents=True)
        (folder / "model.py").write_text(MODEL.format(first_s=args.first_ms / 1000, log=str(log)))
        port = free_port()
        command = ["taskset", "-c", "0", str(ROOT / ".venv/bin/moorings"), "serve",
                   str(Path(tmp) / "repo"), "--rest-port", str(port), "--grpc-port", str(free_port()),
                   "--allow-python-models", "--no-tfserving-grpc", "--http-server", args.http_server,
                   "--log-level", "warning"]  # fmt: skip
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            os.sched_setaffinity(0, {1})
            deadline = time.monotonic() + 60
            while True:
                try:
                    first_event(port, b'{"n": 0}')
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            for _ in range(20):  # warm-up
                first_event(port, b'{"n": 0}')
            log.write_text("")
            times = [first_event(port, b'{"n": 1}') for _ in range(args.requests)]
            model = [float(line) / 1e6 for line in log.read_text().split()]
        finally:
            server.terminate()
            server.wait(30)
    over = sorted((t - m) * 1e3 for t, m in zip(times, model, strict=True))
    print(f"requests: {len(over)}, model's first result: median {statistics.median(model) * 1e3:.2f} ms")
    print(
        f"first event minus the model's first result: median {statistics.median(over):.2f} ms, "
        f"p90 {over[int(0.9 * len(over))]:.2f} ms, p99 {over[int(0.99 * len(over))]:.2f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
