"""Run a real `moorings serve` process on free ports for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    rest_port: int
    log_path: Path
    grpc_port: int = 0

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(
    repository: Path,
    *extra_args: str,
    poll_seconds: float = 0.2,
    timeout: float = 120,
    tfserving_grpc: bool = True,
    wait_ready: bool = True,
) -> Iterator[RunningServer]:
    """Start the server, wait until it is ready (first loads finished, gRPC listening), stop it afterwards.

    ``wait_ready=False``: wait only until REST answers ``/v2/health/live`` (loads may be under way).
    ``tfserving_grpc=False`` starts it with ``--no-tfserving-grpc``. KServe V2
    and other gRPC services are always on.
    """
    if not tfserving_grpc:
        extra_args = ("--no-tfserving-grpc", *extra_args)
    rest_port = free_port()
    grpc_port = free_port()
    log_path = repository.parent / f"server-{rest_port}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "moorings", "serve", str(repository),
                "--rest-port", str(rest_port), "--grpc-port", str(grpc_port),
                "--poll-seconds", str(poll_seconds), *extra_args,
            ],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    server = RunningServer(process, rest_port, log_path, grpc_port)
    probe = "ready" if wait_ready else "live"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.url}/v2/health/{probe}", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after {timeout}s:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def raw_http(port: int, request: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Send exact request bytes (no client-side URL normalisation); return (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                None,
            )
            if length is not None and len(body) >= length:
                break
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]
