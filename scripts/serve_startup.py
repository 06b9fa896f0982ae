"""Time `moorings serve` from start to ready and read its memory, a few runs in a row.

    .venv/bin/python scripts/serve_startup.py REPO [--runs 3] [-- extra serve arguments]

Each run starts ``python -m moorings serve REPO`` on free loopback ports (with
this interpreter and environment: set PYTHONPATH to measure another checkout),
polls ``GET /v2/health/ready`` every 20 ms until it answers 200, then reads
VmRSS and VmHWM from ``/proc/PID/status`` and whether any file of the
``tensorflow`` package is mapped into the process, and stops it (SIGTERM).
Prints one line per run and the medians.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/v2/health/ready")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def tensorflow_mapped(pid: int) -> bool:
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return False
    folders = tuple(str(Path(p).resolve()) + "/" for p in spec.submodule_search_locations)
    return any(folder in Path(f"/proc/{pid}/maps").read_text() for folder in folders)


def run_once(repository: str, extra: list[str], timeout: float) -> tuple[float, int, int, bool]:
    rest, grpc_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="moorings-startup-") as data:
        command = [
            sys.executable, "-m", "moorings", "serve", repository, "--rest-port", str(rest),
            "--grpc-port", str(grpc_port), "--data-dir", data, "--log-level", "warning", *extra,
        ]  # fmt: skip
        log = Path(data) / "server.log"
        start = time.perf_counter()
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            while not ready(rest):
                if process.poll() is not None:
                    raise SystemExit(
                        f"the server exited with {process.returncode}:\n{log.read_text()[-4000:]}"
                    )
                if time.perf_counter() - start > timeout:
                    raise SystemExit(f"not ready after {timeout} s")
                time.sleep(0.02)
            seconds = time.perf_counter() - start
            rss, peak = status_kib(process.pid, "VmRSS"), status_kib(process.pid, "VmHWM")
            return seconds, rss, peak, tensorflow_mapped(process.pid)
        finally:
            process.terminate()
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("repository")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, extra = parser.parse_args(argv[:split]), argv[split + 1 :]
    results = []
    for i in range(args.runs):
        seconds, rss, peak, tf = run_once(args.repository, extra, args.timeout)
        results.append((seconds, rss, peak))
        print(
            f"run {i + 1}: ready {seconds:.2f} s, RSS {rss / 1024:.0f} MiB (peak {peak / 1024:.0f}), "
            f"TensorFlow mapped: {tf}"
        )
    print(
        f"median of {args.runs}: ready {statistics.median(r[0] for r in results):.2f} s, "
        f"RSS {statistics.median(r[1] for r in results) / 1024:.0f} MiB "
        f"(PYTHONPATH={os.environ.get('PYTHONPATH', '')!r}, serve {' '.join(extra)})"
    )


if __name__ == "__main__":
    main()
