"""Cost of Moorings' own request path without the kernel: drive it in-process.

    taskset -c 0 .venv/bin/python benchmarks/profile_app.py [--no-batching] [--concurrency 32] [--cprofile]
    taskset -c 0 .venv/bin/python benchmarks/profile_app.py --through-http1

Prints microseconds of CPU per request for the TF Serving :predict of the MLP.
By default requests go straight to ``RestApp.handle`` (what is left once the
HTTP server's own cost is taken away). ``--through-http1`` feeds the request
bytes to Moorings' real HTTP/1.1 connections over a transport that keeps what
is written instead of sending it: the whole server's own cost without socket
system calls, steadier than a run under wrk on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.bodies import write_all  # noqa: E402

from moorings.batch_settings import BatchingSettings  # noqa: E402
from moorings.config import ServerSettings  # noqa: E402
from moorings.core.manager import Manager  # noqa: E402
from moorings.dataplane import DataPlane  # noqa: E402
from moorings.http1.connection import READ_BUFFER, HttpConnection  # noqa: E402
from moorings.http1.limits import Limits  # noqa: E402
from moorings.http1.messages import Request  # noqa: E402
from moorings.http1.wire import DateHeader  # noqa: E402
from moorings.rest.app import RestApp  # noqa: E402
from moorings.server import build_manager, freeze_heap, set_gc_threshold  # noqa: E402
from moorings.types import (  # noqa: E402
    ModelRef,
    Signature,
    Tensors,
)

EXTRA_HEADERS: list[tuple[bytes, bytes]] = []


async def one(app: RestApp, body: bytes, path: str) -> int:
    """One request as Moorings' HTTP server hands it over: a whole Request to ``RestApp.handle``."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    status, _, _ = await app.handle(Request("POST", path.encode(), headers + EXTRA_HEADERS, body))
    return status


async def drive(app: RestApp, body: bytes, path: str, concurrency: int, seconds: float) -> int:
    done = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal done
        while time.monotonic() < stop:
            status = await one(app, body, path)
            assert status == 200, status
            done += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done


class _Budget:
    """Until when requests are sent: a time, or a number of requests (steady counts for callgrind)."""

    def __init__(self, seconds: float, requests: int) -> None:
        self.stop = time.monotonic() + seconds
        self.counted = requests > 0
        self.left = requests

    def take(self) -> bool:
        """Whether the client whose answer just came sends another request."""
        if self.counted:
            self.left -= 1
            return self.left > 0
        return time.monotonic() < self.stop


class _LoopbackTransport:
    """Stands in for a socket: each answer written makes the client send its next request."""

    def __init__(self, loop: asyncio.AbstractEventLoop, request: bytes, budget: _Budget) -> None:
        self.loop, self.request, self.budget = loop, request, budget
        self.protocol: HttpConnection | None = None
        self.answers = 0
        self.done: asyncio.Future[None] = loop.create_future()

    def write(self, data: bytes) -> None:
        if not data.startswith(b"HTTP/1.1 200"):
            if not self.done.done():
                self.done.set_exception(AssertionError(f"not a 200 answer: {data[:300]!r}"))
            return
        self.answers += 1
        if self.budget.take():
            self.loop.call_soon(self.send)
        elif not self.done.done():
            self.done.set_result(None)

    def send(self) -> None:
        """Hand the request to the connection as a socket read would: into the buffers it offers."""
        protocol = self.protocol
        assert protocol is not None
        data, pos = memoryview(self.request), 0
        while pos < len(data):
            buffer = protocol.get_buffer(-1)
            size = min(len(buffer), len(data) - pos)
            buffer[:size] = data[pos : pos + size]
            pos += size
            protocol.buffer_updated(size)

    def pause_reading(self) -> None:
        pass  # one request in flight per connection: nothing to hold back

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        raise AssertionError("the server closed a keep-alive connection")

    def abort(self) -> None:
        self.close()


async def drive_http1(
    app: RestApp, body: bytes, path: str, concurrency: int, seconds: float, requests: int = 0
) -> int:
    loop = asyncio.get_running_loop()
    extra = [f"{k.decode()}: {v.decode()}" for k, v in EXTRA_HEADERS]
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *extra]  # fmt: skip
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    budget = _Budget(seconds, requests)
    connections: set[HttpConnection] = set()
    transports = []
    read_buffer = bytearray(READ_BUFFER)
    for _ in range(concurrency):
        transport = _LoopbackTransport(loop, request, budget)
        protocol = HttpConnection(app.handle, Limits(), connections, DateHeader(), loop, read_buffer)
        transport.protocol = protocol
        protocol.connection_made(transport)  # type: ignore[arg-type]
        transports.append(transport)
        loop.call_soon(transport.send)
    await asyncio.gather(*(t.done for t in transports))
    return sum(t.answers for t in transports)


def count_model_calls(manager: Manager, model: str) -> list[int]:
    """Record the rows of every call into the model's runtime (the batch sizes that formed)."""
    rows: list[int] = []
    with manager.acquire(ModelRef(model)) as servable:
        runtime = servable.runtime
        predict = runtime.predict

        def counted(signature: Signature, inputs: Tensors) -> Tensors:
            rows.append(len(next(iter(inputs.values()))))
            return predict(signature, inputs)

        runtime.predict = counted  # type: ignore[method-assign]
        if servable.batcher is not None:
            servable.batcher._predict = counted
    return rows


def split_cores() -> None:
    """Pin this (the loop) thread to CPU 0 and the threads already started (batching) to CPU 1."""
    me = threading.get_native_id()
    for task in Path("/proc/self/task").iterdir():
        os.sched_setaffinity(int(task.name), {0} if int(task.name) == me else {1})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-batching", action="store_true")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--model", default="mlp", help="a model of benchmarks/.work/repos (mlp, mlp-tf, effnet)"
    )
    parser.add_argument("--body", default="mlp-rows")
    parser.add_argument("--path", default="/v1/models/mlp:predict")
    parser.add_argument(
        "--gc-threshold", type=int, default=ServerSettings.gc_threshold, help="as moorings serve's"
    )
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--profile-out", help="with --cprofile: also write the stats to this file (pstats)")
    parser.add_argument("--through-http1", action="store_true", help="through the HTTP/1.1 connections")
    parser.add_argument(
        "--requests", type=int, default=0, help="with --through-http1: send this many requests, not --seconds"
    )
    parser.add_argument("--header", action="append", default=[], help="extra request header, NAME:VALUE")
    parser.add_argument(
        "--split-cores",
        action="store_true",
        help="event loop thread on CPU 0, every other thread on CPU 1 (cProfile then times the loop alone)",
    )
    args = parser.parse_args()
    body = write_all()[args.body].read_bytes()
    for item in args.header:
        name, _, value = item.partition(":")
        EXTRA_HEADERS.append((name.strip().lower().encode(), value.strip().encode()))
    settings = ServerSettings(
        repository=HERE / ".work/repos" / args.model, batching=BatchingSettings(enabled=not args.no_batching)
    )
    manager = build_manager(settings)
    manager.start(60)
    while not manager.is_ready():
        time.sleep(0.05)
    freeze_heap()  # as the server does once it is ready
    set_gc_threshold(args.gc_threshold)
    app = RestApp(DataPlane(manager, settings.inference_threads), settings.max_body_bytes)
    model_calls = count_model_calls(manager, args.model)
    import uvloop

    if args.split_cores:
        split_cores()

    def run(seconds: float, requests: int) -> int:
        if args.through_http1:
            return uvloop.run(drive_http1(app, body, args.path, args.concurrency, seconds, requests))
        return uvloop.run(drive(app, body, args.path, args.concurrency, seconds))

    run(0.5, args.requests and 500)  # warm-up
    profiler = cProfile.Profile() if args.cprofile else None
    model_calls.clear()
    cpu0, wall0, main0 = time.process_time(), time.perf_counter(), time.thread_time()
    if profiler:
        profiler.enable()
    done = run(args.seconds, args.requests)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    main_cpu = time.thread_time() - main0
    print(
        f"{done / wall:.0f} req/s, {cpu / done * 1e6:.1f} us CPU per request (all threads), "
        f"{main_cpu / done * 1e6:.1f} us on the event loop thread, "
        f"{sum(model_calls) / max(len(model_calls), 1):.1f} rows per model call"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
    manager.stop()


if __name__ == "__main__":
    main()
