"""Cost of Moorings' own request path, without HTTP: drive ``RestApp.handle`` in-process.

    taskset -c 0 .venv/bin/python benchmarks/profile_app.py [--no-batching] [--concurrency 32] [--cprofile]

Prints microseconds of CPU per request for the TF Serving :predict of the MLP
(what is left once the HTTP server's own cost is taken away).
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

from moorings.batching.settings import BatchingSettings  # noqa: E402
from moorings.config import ServerSettings  # noqa: E402
from moorings.dataplane import DataPlane  # noqa: E402
from moorings.rest.app import RestApp  # noqa: E402
from moorings.rest.request import Request  # noqa: E402
from moorings.server import build_manager  # noqa: E402

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
    parser.add_argument("--body", default="mlp-rows")
    parser.add_argument("--path", default="/v1/models/mlp:predict")
    parser.add_argument("--cprofile", action="store_true")
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
        repository=HERE / ".work/repos/mlp", batching=BatchingSettings(enabled=not args.no_batching)
    )
    manager = build_manager(settings)
    manager.start(60)
    while not manager.is_ready():
        time.sleep(0.05)
    app = RestApp(DataPlane(manager, settings.inference_threads), settings.max_body_bytes)
    import uvloop

    if args.split_cores:
        split_cores()

    uvloop.run(drive(app, body, args.path, args.concurrency, 0.5))
    profiler = cProfile.Profile() if args.cprofile else None
    cpu0, wall0, main0 = time.process_time(), time.perf_counter(), time.thread_time()
    if profiler:
        profiler.enable()
    done = uvloop.run(drive(app, body, args.path, args.concurrency, args.seconds))
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    main_cpu = time.thread_time() - main0
    print(
        f"{done / wall:.0f} req/s, {cpu / done * 1e6:.1f} us CPU per request (all threads), "
        f"{main_cpu / done * 1e6:.1f} us on the event loop thread"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    manager.stop()


if __name__ == "__main__":
    main()
