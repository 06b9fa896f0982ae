"""Send the HTTP/1.1 hostile-input findings to both REST front ends and print what each does.

    .venv/bin/python benchmarks/hostile/http1_probe.py [--heads 1000] [--chunked 10]

Starts ``moorings serve`` twice on loopback (``--http-server moorings``, then
``uvicorn``) with a small ONNX MLP, sends each attack of docs/reliability.md's
HTTP/1.1 section, prints one Markdown table row per attack and front end, and
stops the servers. Bounded: at most ``--heads`` connections at once (200 for
the H rows), and ``--chunked`` requests of a million one-byte chunks (6 MB
each). Memory is the server process's RSS, so run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support import onnx_models
from tests.support.server import RunningServer, running_server

HEAD_ONLY = b"POST /v1/models/echo:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000\r\n\r\n"


def rss_mib(server: RunningServer) -> float:
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def statuses(port: int, data: bytes, expect: int, seconds: float = 10) -> list[int]:
    """Send ``data`` on one connection; the statuses of up to ``expect`` answers before it closes."""
    got: list[int] = []
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(data)
        buffer = b""
        while len(got) < expect:
            while b"\r\n\r\n" not in buffer:
                try:
                    chunk = sock.recv(1 << 16)
                except (TimeoutError, ConnectionResetError):
                    chunk = b""
                if not chunk:
                    return got
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            got.append(int(lines[0].split()[1]))
            length = next(
                (
                    int(v)
                    for k, _, v in (x.partition(b":") for x in lines[1:])
                    if k.lower() == b"content-length"
                ),
                0,
            )
            while len(buffer) < length:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    return got
                buffer += chunk
            buffer = buffer[length:]
    return got


def heads(server: RunningServer, count: int) -> str:
    before = rss_mib(server)
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.rest_port), timeout=10)
        sock.sendall(HEAD_ONLY)
        socks.append(sock)
    time.sleep(2)
    held = rss_mib(server) - before
    for sock in socks:
        sock.close()
    time.sleep(2)
    after = rss_mib(server) - before
    return f"+{held:.0f} MiB held by {count} heads; +{after:.0f} MiB 2 s after they closed"


def chunked(server: RunningServer, requests: int) -> str:
    before = rss_mib(server)
    answers = []
    started = time.monotonic()
    piece = b"1\r\nx\r\n" * 10_000
    for _ in range(requests):
        with socket.create_connection(("127.0.0.1", server.rest_port), timeout=60) as sock:
            sock.sendall(
                b"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            try:
                for _ in range(100):
                    sock.sendall(piece)
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                answer = sock.recv(200)
                answers.append(int(answer.split()[1]) if answer else 0)
            except (ConnectionResetError, TimeoutError):
                answers.append(0)
    seconds = time.monotonic() - started
    time.sleep(1)
    return f"answers {sorted(set(answers))} in {seconds:.1f} s; +{rss_mib(server) - before:.0f} MiB after"


def v2_header(server: RunningServer, value: bytes) -> str:
    body = b'{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}'
    request = (
        b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
        b"Inference-Header-Content-Length: %s\r\n\r\n" % (len(body), value)
    )
    return str(statuses(server.rest_port, request + body, 1))


def connect(server: RunningServer, length: int) -> str:
    request = (
        b"CONNECT /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length
        + b"a" * length
        + b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    got = statuses(server.rest_port, request, 2)
    return f"{got}, " + ("then the GET was served" if len(got) > 1 else "the GET not served")


def pipelined(server: RunningServer) -> str:
    body = orjson.dumps({"instances": [[0.5, 0.25, 0.125, 1.0]] * 4000})
    one = b"POST /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    return str(statuses(server.rest_port, one * 4, 4, seconds=30))


def long_url(server: RunningServer) -> str:
    return str(statuses(server.rest_port, b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 1))


def fragment(server: RunningServer) -> str:
    return str(statuses(server.rest_port, b"GET /v2/health/live#frag HTTP/1.1\r\nHost: x\r\n\r\n", 1))


def held_by(server: RunningServer, count: int, data: bytes) -> str:
    """RSS the server holds while ``count`` connections have each sent ``data`` and read nothing."""
    before = rss_mib(server)
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.rest_port), timeout=10)
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.send(data)
        socks.append(sock)
    time.sleep(2)
    held = rss_mib(server) - before
    for sock in socks:
        sock.close()
    time.sleep(2)
    after = rss_mib(server) - before
    return f"+{held:.0f} MiB held by {count} connections; +{after:.0f} MiB after they closed"


def main(head_count: int, chunked_requests: int, front_ends: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        repo = Path(folder) / "repo"
        onnx_models.write_mlp(repo / "mlp" / "1")
        probes: list[tuple[str, Callable[[RunningServer], str]]] = [
            (f"A: {head_count} bodiless heads (Content-Length: 60000000)", lambda s: heads(s, head_count)),
            (f"B: {chunked_requests} x 1 M one-byte chunks", lambda s: chunked(s, chunked_requests)),
            ("C: Inference-Header-Content-Length: \\xc2\\xb2", lambda s: v2_header(s, b"\xc2\xb2")),
            ("C: Inference-Header-Content-Length: \\xb2", lambda s: v2_header(s, b"\xb2")),
            ("C: Inference-Header-Content-Length: 4,991 digits", lambda s: v2_header(s, b"9" * 4991)),
            ("D: CONNECT, Content-Length 10, then a GET", lambda s: connect(s, 10)),
            ("D: CONNECT, Content-Length 72010, then a GET", lambda s: connect(s, 72010)),
            ("E: 4 x 4,000-row predicts pipelined", pipelined),
            ("F: a 100 KB URL", long_url),
            ("F: GET /v2/health/live#frag", fragment),
            (
                "H: 200 heads of 15,000 empty header fields (60 KB, unfinished)",
                lambda s: held_by(s, 200, b"GET / HTTP/1.1\r\n" + b"a:\r\n" * 15_000),
            ),
            (
                "H: 200 x 3,400 pipelined 19-byte GETs (64 KB), answers unread",
                lambda s: held_by(s, 200, b"GET / HTTP/1.1\r\n\r\n" * 3400),
            ),
        ]
        print("| attack | front end | result |")
        print("|---|---|---|")
        for front_end in front_ends:
            with running_server(repo, "--http-server", front_end) as server:
                for name, probe in probes:
                    print(f"| {name} | {front_end} | {probe(server)} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--heads", type=int, default=1000)
    parser.add_argument("--chunked", type=int, default=10)
    parser.add_argument("--front-ends", nargs="+", default=["moorings", "uvicorn"])
    args = parser.parse_args()
    main(args.heads, args.chunked, args.front_ends)
