"""An open-loop HTTP/1.1 load generator: requests leave on a fixed schedule, whatever the answers do.

    .venv/bin/python benchmarks/openloop.py --url http://127.0.0.1:8501/v1/models/mlp:predict \
        --body '{"instances": [[1, 2, 3, 4]]}' --rate 150 --seconds 30

A closed-loop client (send, wait for the answer, send again) slows down with the server and so
never shows what an overloaded server does to the requests that keep arriving. Here request i is
due at ``i / rate`` seconds: it goes out on an idle keep-alive connection, or on a new one when
none is idle (up to ``max_connections``), and its latency counts from when it was due, so time a
request spent waiting for a connection is part of it. Each request's outcome is kept: when it
was due, how late it left, its latency, its status, and a transport error if there was one
(a reset, a refused connection, a timeout, a connection closed with an answer owed).

Requests are written as raw bytes on asyncio streams (no HTTP library per request), which keeps
the generator's own cost at a fraction of the server's. The tests in ``tests/reliability/``
call :func:`run_open_loop` in their own process.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: a response head longer than this is a protocol error for the generator
MAX_HEAD_BYTES = 64 * 1024


@dataclass
class Outcome:
    """One request: ``status`` 0 means it failed at the transport (``error`` says how)."""

    due: float  # seconds from the start, when it should have left
    late: float  # seconds it left after ``due`` (waiting for the generator itself)
    latency: float  # seconds from ``due`` to the last byte of the answer (or the failure)
    status: int
    error: str | None = None
    body: bytes | None = None


@dataclass
class Report:
    """Every outcome of a run, in the order the requests were due."""

    outcomes: list[Outcome]
    seconds: float
    rate: float
    connections_opened: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def where(self, predicate: Callable[[Outcome], bool]) -> list[Outcome]:
        return [o for o in self.outcomes if predicate(o)]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 0]

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> dict[str, object]:
        lat = [o.latency for o in self.outcomes]
        return {
            "sent": len(self.outcomes),
            "rate": self.rate,
            "seconds": round(self.seconds, 2),
            "statuses": self.statuses(),
            "p50_ms": round(percentile(lat, 50) * 1000, 2),
            "p99_ms": round(percentile(lat, 99) * 1000, 2),
            "max_ms": round(max(lat, default=0.0) * 1000, 2),
            "late_p99_ms": round(percentile([o.late for o in self.outcomes], 99) * 1000, 2),
            "connections_opened": self.connections_opened,
            "errors": sorted({o.error for o in self.failed if o.error})[:5],
        }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def request_bytes(
    method: str, url: str, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()
) -> tuple[str, int, bytes]:
    """(host, port, the request's bytes) for a keep-alive HTTP/1.1 request."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    if body:
        lines.append("Content-Type: application/json")
    lines.extend(f"{k}: {v}" for k, v in headers)
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 answer; raises on a closed or broken stream."""
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEAD_BYTES:
        raise ValueError("response head too long")
    lines = head[:-4].split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    status = int(status_line[1])
    length: int | None = None
    chunked = False
    keep_alive = status_line[0] == b"HTTP/1.1"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"connection":
            keep_alive = value == b"keep-alive" or (keep_alive and value != b"close")
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, b"".join(parts), keep_alive
    if length is None:
        return status, await reader.read(), False
    return status, await reader.readexactly(length), keep_alive


class _Pool:
    """Idle keep-alive connections to one address; new ones opened on demand, up to a bound.

    A connection idle for ``max_idle`` seconds is closed rather than reused: a server closes
    idle keep-alive connections (Moorings after 5 s), and a request written just as the
    server's close is on its way meets a reset that is the client's doing, not the server's
    (HTTP clients keep their idle timeout under the server's for that reason).
    """

    def __init__(self, host: str, port: int, max_connections: int, max_idle: float = 2.0) -> None:
        self.host, self.port = host, port
        #: (reader, writer, when it went idle), oldest first
        self.idle: collections.deque[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = (
            collections.deque()
        )
        self.max_idle = max_idle
        self.slots = asyncio.Semaphore(max_connections)
        self.opened = 0
        self.open_writers: set[asyncio.StreamWriter] = set()

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = asyncio.get_running_loop().time()
        while self.idle and now - self.idle[0][2] > self.max_idle:
            self._close(self.idle.popleft()[1])
        while self.idle:
            reader, writer, _ = self.idle.pop()  # the most recently used
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            self._close(writer)
        await self.slots.acquire()
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD_BYTES * 2)
        except BaseException:
            self.slots.release()
            raise
        self.opened += 1
        self.open_writers.add(writer)
        return reader, writer

    def give_back(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reusable: bool) -> None:
        if reusable and not writer.is_closing():
            self.idle.append((reader, writer, asyncio.get_running_loop().time()))
        else:
            self._close(writer)

    def discard(self, writer: asyncio.StreamWriter) -> None:
        self._close(writer)

    def _close(self, writer: asyncio.StreamWriter) -> None:
        if writer in self.open_writers:
            self.open_writers.discard(writer)
            self.slots.release()
        writer.close()

    async def close_all(self) -> None:
        writers = list(self.open_writers)
        for writer in writers:
            self._close(writer)
        for writer in writers:
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        self.idle.clear()


async def _one(
    pool: _Pool, payload: bytes, start: float, due: float, timeout: float, keep_body: bool
) -> Outcome:
    loop = asyncio.get_running_loop()
    late = loop.time() - start - due
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await pool.take()
            writer.write(payload)
            status, body, keep_alive = await read_response(reader)
        latency = loop.time() - start - due
        pool.give_back(reader, writer, keep_alive)
        return Outcome(due, late, latency, status, None, body if keep_body else None)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError) as exc:
        if writer is not None:
            pool.discard(writer)
        latency = loop.time() - start - due
        return Outcome(due, late, latency, 0, f"{type(exc).__name__}: {exc}"[:200])


async def run_open_loop(
    url: str,
    rate: float,
    seconds: float,
    *,
    method: str = "POST",
    body: bytes = b"",
    bodies: Sequence[bytes] | None = None,
    headers: Sequence[tuple[str, str]] = (),
    max_connections: int = 1000,
    timeout: float = 30.0,
    keep_bodies: bool = False,
    on_tick: Callable[[float], None] | None = None,
) -> Report:
    """Send ``rate`` requests a second for ``seconds`` s on schedule; return every outcome.

    ``bodies`` (if given) are sent in turn instead of ``body``. ``on_tick(elapsed)`` is called
    about every 100 ms from the event loop (for sampling the server while the load runs).
    """
    payloads = [request_bytes(method, url, b, headers)[2] for b in (bodies or [body])]
    host, port, _ = request_bytes(method, url)
    pool = _Pool(host, port, max_connections)
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    tasks: list[asyncio.Task[Outcome]] = []
    start = loop.time()
    next_tick = 0.0
    for i in range(total):
        due = i / rate
        wait = start + due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if on_tick is not None and due >= next_tick:
            on_tick(due)
            next_tick = due + 0.1
        payload = payloads[i % len(payloads)]
        tasks.append(asyncio.create_task(_one(pool, payload, start, due, timeout, keep_bodies)))
    outcomes = list(await asyncio.gather(*tasks))
    elapsed = loop.time() - start
    await pool.close_all()
    return Report(outcomes, elapsed, rate, pool.opened)


async def run_closed_loop(
    url: str, concurrency: int, seconds: float, *, method: str = "POST", body: bytes = b""
) -> Report:
    """``concurrency`` clients each sending the next request when the last is answered.

    Gives the rate the server sustains (``len(outcomes) / seconds``); latency counts from send.
    """
    host, port, payload = request_bytes(method, url, body)
    loop = asyncio.get_running_loop()
    start = loop.time()
    outcomes: list[Outcome] = []
    opened = 0

    async def client() -> None:
        nonlocal opened
        reader, writer = await asyncio.open_connection(host, port)
        opened += 1
        try:
            while loop.time() - start < seconds:
                sent = loop.time()
                writer.write(payload)
                status, _, keep_alive = await read_response(reader)
                outcomes.append(Outcome(sent - start, 0.0, loop.time() - sent, status))
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    opened += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return Report(outcomes, loop.time() - start, 0.0, opened)


async def run_open_loop_grpc(
    call: Callable[[float], Awaitable[str]], rate: float, seconds: float, *, timeout: float = 30.0
) -> Report:
    """The same schedule for gRPC: ``call(timeout)`` makes one call and returns its status code's
    name ("OK", "RESOURCE_EXHAUSTED", ...). ``Outcome.status`` is 200 for OK, 429 for
    RESOURCE_EXHAUSTED, 503 for UNAVAILABLE, 0 for anything else (named in ``error``)."""
    loop = asyncio.get_running_loop()
    statuses = {"OK": 200, "RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503}

    async def one(due: float) -> Outcome:
        late = loop.time() - start - due
        try:
            code = await call(timeout)
        except Exception as exc:  # a failure of the client itself
            code = f"{type(exc).__name__}: {exc}"[:200]
        latency = loop.time() - start - due
        status = statuses.get(code, 0)
        return Outcome(due, late, latency, status, None if status else code)

    tasks: list[asyncio.Task[Outcome]] = []
    start = loop.time()
    for i in range(int(rate * seconds)):
        due = i / rate
        wait = start + due - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(due)))
    outcomes = list(await asyncio.gather(*tasks))
    return Report(outcomes, loop.time() - start, rate)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="POST")
    parser.add_argument("--body", default="", help="request body (text)")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-connections", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    started = time.time()
    report = asyncio.run(
        run_open_loop(
            args.url, args.rate, args.seconds, method=args.method, body=args.body.encode(),
            max_connections=args.max_connections, timeout=args.timeout,
        )
    )  # fmt: skip
    print(json.dumps({"started": started, **report.summary()}, indent=1))


if __name__ == "__main__":
    main()
