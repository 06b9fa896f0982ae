"""Hostile input against Moorings' HTTP/1.1 server itself (an echo handler; the app is tested beside it).

Each test sends the bytes of a finding (issues 20 and 22): heads that declare a
large body and send none, bodies of a million tiny chunks, CONNECT with a body
of either size, pipelined requests, a 100 KB URL, a fragment. Memory is
measured in a server process of its own (``tests.support.http1_process``).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import weakref
from collections.abc import Callable

import orjson
import pytest
import uvloop

from moorings.http1 import Limits
from moorings.http1.connection import PARSE_SLICE, HttpConnection
from moorings.http1.large_body import LARGE_BODY
from moorings.http1.messages import Answer, Request
from tests.http1.test_server import (
    SEEN,
    expect_error_and_close,
    is_closed,
    post,
    read_response,
    serving,
)
from tests.support.http1_process import http1_process

#: the head of issue 20's finding 2: 76 bytes that declare a 60 MB body, and no body
HEAD_ONLY = b"POST /v1/models/echo:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000\r\n\r\n"
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_bodiless_heads_hold_no_body_memory_and_get_408() -> None:
    assert len(HEAD_ONLY) == 76
    count = 400
    with http1_process("--request-seconds", "1.5") as server:
        with connect(server.port) as sock:  # one request first, so the baseline has the code paths warm
            sock.sendall(post("/warm", b"x" * (LARGE_BODY + 1)))
            assert read_response(sock, bytearray())[0] == 200
        before = server.rss_mib()
        socks = [connect(server.port) for _ in range(count)]
        for sock in socks:
            sock.sendall(HEAD_ONLY)
        time.sleep(0.5)  # every head read and parsed
        held = server.rss_mib() - before
        # the old server gave each head a zeroed 1 MiB buffer: +400 MiB here
        assert held < 40, f"{count} bodiless heads hold {held:.0f} MiB"
        for sock in socks:
            expect_error_and_close(sock, 408, b"did not arrive")
            sock.close()
        time.sleep(0.3)
        assert server.rss_mib() - before < 40


def test_a_body_of_a_million_one_byte_chunks_is_refused_early() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(b"POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunks = b"1\r\nx\r\n" * 10_000
        try:
            for _ in range(100):  # up to a million chunks; the server closes long before
                sock.sendall(chunks)
        except (BrokenPipeError, ConnectionResetError):
            pass
        expect_error_and_close(sock, 400, b"chunks average 1 bytes", b"at least 1024 bytes")
    assert b"/chunks" not in SEEN


def test_many_chunks_of_a_reasonable_size_are_reassembled() -> None:
    limits = Limits(free_chunks=10, min_chunk_bytes=100)
    with serving(limits) as server, server.connect() as sock:
        parts = [bytes([65 + i % 26]) * 150 for i in range(2000)]
        body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
        sock.sendall(b"POST /ok HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        status, _, answer = read_response(sock, bytearray())
        assert status == 200
        assert orjson.loads(answer)["body"] == b"".join(parts).decode()


def test_chunked_attack_memory_is_bounded_and_returned() -> None:
    with http1_process() as server:
        before = server.rss_mib()
        for _ in range(20):  # issue 22: 100 requests of a million one-byte chunks took +760 MiB
            with connect(server.port) as sock:
                sock.sendall(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                try:
                    for _ in range(100):
                        sock.sendall(b"1\r\nx\r\n" * 10_000)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                assert read_response(sock, bytearray())[0] == 400
        # a real chunked body of 16 MiB in 4 KiB chunks is accepted, and its memory given back
        part = b"y" * 4096
        with connect(server.port) as sock:
            sock.sendall(b"POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            sock.sendall((b"1000\r\n" + part + b"\r\n") * 4096 + b"0\r\n\r\n")
            status, _, answer = read_response(sock, bytearray())
            assert status == 200 and orjson.loads(answer)["length"] == 16 * 1024 * 1024
        time.sleep(0.2)
        assert server.rss_mib() - before < 30


@pytest.mark.parametrize("loop", LOOPS)
def test_a_closed_connection_is_freed_without_a_garbage_collection(loop: str) -> None:
    enabled = gc.isenabled()
    gc.disable()
    try:
        with serving(loop_factory=LOOPS[loop]) as server:
            connections: set[HttpConnection] = server.server._connections
            for first, then in (
                (post("/a", b"served"), HEAD_ONLY),  # one answered, one waiting for its body
                (b"GET /a HTTP/1.1\r\n", b"X: " + b"y" * 70_000 + b"\r\n\r\n"),  # refused in the parser: 431
                (b"", post("/b", b"z" * (LARGE_BODY + 10))[:-5]),  # a large body half read
            ):
                sock = server.connect()
                sock.sendall(first)
                assert wait_for(lambda: len(connections) == 1)
                ref = weakref.ref(next(iter(connections)))
                sock.sendall(then)
                time.sleep(0.1)
                sock.close()
                assert wait_for(lambda: not connections)
                freed = wait_for(lambda ref=ref: ref() is None, 2)  # type: ignore[misc]
                assert freed, f"a closed connection outlived {then[:30]!r}"
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("length", [10, 72_010])
@pytest.mark.parametrize("upgrade", [b"", b"Upgrade: websocket\r\nConnection: Upgrade\r\n"])
def test_connect_and_upgrade_frame_alike_whatever_the_body_size(length: int, upgrade: bytes) -> None:
    method = b"POST" if upgrade else b"CONNECT"
    head = b"%s /v1/models/mlp:predict HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n"
    after = b"/after-%d-%d" % (length, len(upgrade))
    with serving() as server, server.connect() as sock:
        following = b"GET " + after + b" HTTP/1.1\r\n\r\n"
        sock.sendall(head % (method, upgrade, length) + b"a" * length + following)
        status, headers, _ = read_response(sock, bytearray())
        assert status == 200 and headers["connection"] == "close"
        assert is_closed(sock)
    assert after not in SEEN  # the bytes after the request are not another request


class Overlap:
    """A handler that notes how many requests ran at once."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.seconds = seconds
        self.running = 0
        self.most = 0

    async def __call__(self, request: Request) -> Answer:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(self.seconds)
        self.running -= 1
        return 200, request.raw_path, []


def test_pipelined_requests_run_one_after_another_in_order() -> None:
    handler = Overlap()
    with serving(handler=handler) as server, server.connect() as sock:
        sock.sendall(b"".join(post(f"/{i}", b"x" * 100) for i in range(4)))
        buffer = bytearray()
        assert [read_response(sock, buffer)[2] for _ in range(4)] == [b"/0", b"/1", b"/2", b"/3"]
    assert handler.most == 1


def test_a_pipelining_flood_pauses_reading() -> None:
    handler = Overlap()
    limits = Limits(max_pipelined=4)
    with serving(limits, handler=handler) as server, server.connect() as sock:
        connections: set[HttpConnection] = server.server._connections
        sock.setblocking(False)
        sent = 0
        request = post("/flood", b"x" * 1000)
        try:
            for _ in range(20_000):  # 21 MB; the kernel's buffers take far less once the server stops reading
                sent += sock.send(request)
        except BlockingIOError:
            pass
        assert sent < 20_000 * len(request)
        # the kernel takes bytes before the server accepts: on a busy machine the server may not have
        # read yet. Wait until it has paused reading, then count what it took on.
        deadline = time.monotonic() + 10
        while not any(c._reading_paused for c in connections) and time.monotonic() < deadline:
            time.sleep(0.01)
        # reading pauses at 4 owed answers; the slice of the read that reached 4 is parsed all the same
        owed = [len(c._pending) for c in connections]
        assert owed and max(owed) <= 4 + PARSE_SLICE // len(request) + 1


def test_a_read_of_many_tiny_pipelined_requests_makes_a_slice_of_them_at_a_time() -> None:
    handler = Overlap(0.002)
    limits = Limits(max_pipelined=4)
    request = b"GET /t HTTP/1.1\r\n\r\n"  # 19 bytes: one read may hold thousands
    count = 1000
    with serving(limits, handler=handler) as server, server.connect() as sock:
        connections: set[HttpConnection] = server.server._connections
        sock.sendall(request * count)
        time.sleep(0.1)
        owed = [len(c._pending) for c in connections]
        assert owed and max(owed) <= 4 + PARSE_SLICE // len(request) + 1
        buffer = bytearray()
        sock.settimeout(30)
        answers = [read_response(sock, buffer) for _ in range(count)]  # all of them, in turn
        assert all(status == 200 and body == b"/t" for status, _, body in answers)
        assert not is_closed(sock, 0.1)


def test_a_100_kb_url_gets_414() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        expect_error_and_close(sock, 414, b"request-target", b"8192 bytes")


def test_a_fragment_is_not_part_of_the_path() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(b"GET /v2/health/live#frag HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.sendall(b"GET /v2/health/ready?x=1#frag?y HTTP/1.1\r\nHost: x\r\n\r\n")
        buffer = bytearray()
        assert orjson.loads(read_response(sock, buffer)[2])["path"] == "/v2/health/live"
        assert orjson.loads(read_response(sock, buffer)[2])["path"] == "/v2/health/ready"


def test_a_head_of_many_tiny_header_fields_gets_431() -> None:
    # 16,000 fields of 4 bytes fit the 64 KiB head limit, and cost the server ~150 bytes each
    with serving() as server, server.connect() as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\n" + b"a:\r\n" * 16_000 + b"\r\n")
        expect_error_and_close(sock, 431, b"more than 256 header fields")
