"""Requests per second through Moorings' HTTP/1.1 server, client and server in one uvloop process.

    .venv/bin/python benchmarks/floor/http1_loop.py --requests 20000 --rounds 3

No wrk needed: asyncio clients on loopback send small requests one at a time
(keep-alive) and pipelined in batches, to a handler that answers fixed JSON.
The client's CPU is counted too, so compare the figures only with each other
(before/after a change to the server), not with wrk's. Besides requests per
second it prints the process's CPU time per request, which holds steadier than
wall time on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from moorings.http1 import HttpServer
from moorings.http1.messages import Answer, Request

ANSWER = b'{"predictions":[[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1]]}'
HEADERS = [(b"content-type", b"application/json")]
REQUEST = (
    b"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 28\r\n\r\n" + b'{"instances": [[1.0, 2.0]]}\n'
)


async def handle(request: Request) -> Answer:
    return 200, ANSWER, HEADERS


async def client(port: int, requests: int, depth: int) -> None:
    """Send ``requests`` requests, ``depth`` at a time in one write, reading every answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    while sent < requests:
        batch = min(depth, requests - sent)
        writer.write(REQUEST * batch)
        for _ in range(batch):
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(len(ANSWER))
        sent += batch
    writer.close()
    await writer.wait_closed()


async def measure(requests: int, connections: int, depth: int) -> tuple[float, float]:
    """(requests per second, CPU microseconds per request)."""
    server = HttpServer(handle, "127.0.0.1", 0)
    await server.start()
    port = server.ports[0]
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(port, requests // connections, depth) for _ in range(connections)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await server.stop(1)
    return requests / elapsed, cpu / requests * 1e6


async def main(requests: int, rounds: int) -> None:
    shapes = (("keep-alive, 4 connections", 4, 1), ("pipelined 16 deep, 1 connection", 1, 16))
    for name, connections, depth in shapes:
        runs = [await measure(requests, connections, depth) for _ in range(rounds)]
        rates = ", ".join(f"{rate:,.0f}" for rate, _ in runs)
        cpu = min(micros for _, micros in runs)
        print(f"{name}: best {max(r for r, _ in runs):,.0f} req/s ({rates}); least CPU {cpu:.1f} us/request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    uvloop.run(main(args.requests, args.rounds))
