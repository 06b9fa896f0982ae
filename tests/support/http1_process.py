"""Moorings' HTTP/1.1 server with a small echo handler, in its own process (to measure its memory).

    python -m tests.support.http1_process --request-seconds 2

prints ``port <n>`` once listening and serves until stdin closes. The handler
answers ``{"path": ..., "length": <body bytes>}``. ``http1_process()`` starts
one from a test and reports its resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import orjson
import uvloop

from moorings.http1 import HttpServer, Limits
from moorings.http1.messages import Answer, Request


async def _echo(request: Request) -> Answer:
    body = orjson.dumps({"path": request.raw_path.decode("latin-1"), "length": len(request.body)})
    return 200, body, [(b"content-type", b"application/json")]


async def _serve(limits: Limits) -> None:
    server = HttpServer(_echo, "127.0.0.1", 0, limits, sweep_seconds=0.1)
    await server.start()
    print(f"port {server.ports[0]}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our stdin
    await server.stop(1)


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int

    def rss_mib(self) -> float:
        """The server's resident memory now."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")


@contextmanager
def http1_process(*args: str) -> Iterator[ServerProcess]:
    """Run the echo server with the given options; stop it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.http1_process", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("port "):
            raise RuntimeError(f"server did not start: {line!r}")
        yield ServerProcess(process, int(line.split()[1]))
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--request-seconds", type=float, default=60.0)
    parser.add_argument("--keep-alive-seconds", type=float, default=5.0)
    args = parser.parse_args()
    limits = Limits(request_seconds=args.request_seconds, keep_alive_seconds=args.keep_alive_seconds)
    uvloop.run(_serve(limits))
