"""The floor of Python gRPC on this machine: an echo server doing nothing else.

    python benchmarks/protocols/grpc_floor.py [--seconds 5] [--server-cpu 0] [--client-cpu 1]
        [--server grpcio|moorings] [--handoff]

``--server grpcio`` (default) is grpc.aio's server; ``--server moorings`` the
same handler on Moorings' own HTTP/2 front end (``moorings.grpc.http2_server``).

Same pinning, load generator and message size (a 3,136-byte payload, as the
MLP's input) as run.py. With ``--handoff`` the handler also waits for a thread
pool, as inference does. Shows how much of gRPC's cost per request in
run.py is grpcio's own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.proc import tree_cpu_seconds  # noqa: E402
from benchmarks.protocols.run import free_port  # noqa: E402

SERVER = """
import asyncio, sys, concurrent.futures
import grpc, uvloop
pool = concurrent.futures.ThreadPoolExecutor(2)
async def main():
    if sys.argv[3] == "moorings":
        from moorings.grpc.http2_server import GrpcHttp2Server
        server = GrpcHttp2Server(4 << 20)
    else:
        server = grpc.aio.server()
    loop = asyncio.get_running_loop()
    handoff = sys.argv[2] == "1"
    async def echo(request, context):
        if handoff:
            await loop.run_in_executor(pool, len, request)
        return request
    handler = grpc.unary_unary_rpc_method_handler(echo)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("floor.Echo", {"Say": handler}),))
    server.add_insecure_port("127.0.0.1:" + sys.argv[1])
    await server.start()
    await asyncio.Event().wait()
uvloop.run(main())
"""


async def load(port: int, concurrency: int, seconds: float, pid: int) -> tuple[float, float]:
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await asyncio.wait_for(channel.channel_ready(), 60)
        stub = channel.unary_unary("/floor.Echo/Say")
        payload = b"\x00" * 3136
        count = 0
        stop = time.perf_counter() + 1.0

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < stop:
                await stub(payload, timeout=10)
                count += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up
        count, cpu, began = 0, tree_cpu_seconds(pid), time.perf_counter()
        stop = began + seconds
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
        return count / elapsed, (tree_cpu_seconds(pid) - cpu) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    parser.add_argument("--server", choices=["grpcio", "moorings"], default="grpcio")
    parser.add_argument("--handoff", action="store_true", help="the handler waits for a thread pool")
    args = parser.parse_args()
    os.sched_setaffinity(0, {int(c) for c in args.client_cpu.split(",")})
    port = free_port()
    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            args.server_cpu,
            sys.executable,
            "-c",
            SERVER,
            str(port),
            "1" if args.handoff else "0",
            args.server,
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        import uvloop

        for concurrency in (1, 32):
            rps, cpu_us = uvloop.run(load(port, concurrency, args.seconds, server.pid))
            print(f"{args.server} echo{' + thread handoff' if args.handoff else ''} c={concurrency}: "
                  f"{rps:.0f} req/s, server {cpu_us:.0f} us/req")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
