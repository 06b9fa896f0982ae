"""Streamed answers (``messages.Streamed``) over real sockets: framing, keep-alive after them, a
reader that does not read (the server stops asking for pieces), and a reader that leaves."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from moorings.http1.messages import Answer, Request, Streamed
from tests.http1.test_server import is_closed, read_response, serving

PIECE = b"x" * 65536


class Source:
    """Pieces for streamed answers; counts how many were made and whether the generator was closed."""

    def __init__(self) -> None:
        self.made = 0
        self.closed = False

    async def pieces(self, count: int | None) -> AsyncGenerator[bytes, None]:
        try:
            while count is None or self.made < count:
                self.made += 1
                yield PIECE if count is None else b"piece %d;" % self.made
                await asyncio.sleep(0)
        finally:
            self.closed = True

    async def handler(self, request: Request) -> Answer:
        if request.raw_path == b"/plain":
            return 200, b"plain", []
        if request.raw_path == b"/slow":
            await asyncio.sleep(0.3)  # the client leaves meanwhile
        count = None if request.raw_path in (b"/endless", b"/slow") else 3
        pieces = self.pieces(count)
        return 200, Streamed(pieces, self.close_after(pieces)), [(b"content-type", b"text/event-stream")]

    def close_after(self, pieces: AsyncGenerator[bytes, None]) -> Callable[[], Awaitable[None]]:
        async def close() -> None:
            await pieces.aclose()
            self.closed = True  # also when the pieces were never asked for

        return close


def read_chunked(sock: socket.socket, buffer: bytearray) -> bytes:
    """The body of a chunked answer whose head is already read (its rest is in ``buffer``)."""
    body = b""
    while True:
        while b"\r\n" not in buffer:
            buffer += sock.recv(65536)
        line, _, rest = bytes(buffer).partition(b"\r\n")
        size = int(line, 16)
        while len(rest) < size + 2:
            rest += sock.recv(65536)
        body += rest[:size]
        buffer[:] = rest[size + 2 :]
        if size == 0:
            return body


def test_a_streamed_answer_is_chunked_and_the_connection_stays_open() -> None:
    source = Source()
    with serving(handler=source.handler) as server, server.connect() as sock:
        buffer = bytearray()
        sock.sendall(b"GET /three HTTP/1.1\r\nHost: x\r\n\r\n")
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head and b"content-length" not in head
        buffer[:] = rest
        assert read_chunked(sock, buffer) == b"piece 1;piece 2;piece 3;"
        sock.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock, buffer)[2] == b"plain"
        assert source.closed


def test_http_1_0_gets_the_pieces_then_the_close() -> None:
    with serving(handler=Source().handler) as server, server.connect() as sock:
        sock.sendall(b"GET /three HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"connection: close" in head and body == b"piece 1;piece 2;piece 3;"


def test_a_reader_that_does_not_read_holds_the_pieces_back() -> None:
    """The server asks for a piece only once the transport has taken the last ones: what waits
    is what the socket buffers hold, not every piece the source could make."""
    source = Source()
    with serving(handler=source.handler) as server, server.connect() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        first = source.made
        time.sleep(0.5)
        assert source.made == first, "pieces kept being made while nobody read them"
        # kernel buffers (a few MB at most) and the transport's high-water mark: far from unbounded
        assert first * len(PIECE) < 64 * 1024 * 1024
        sock.recv(65536)  # reading lets it go on
        while source.made == first:
            sock.recv(1 << 20)
        assert not source.closed


def test_a_reader_that_leaves_closes_the_generator() -> None:
    source = Source()
    with serving(handler=source.handler) as server:
        sock = server.connect()
        sock.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.recv(65536)
        sock.close()
        deadline = time.monotonic() + 5
        while not source.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert source.closed
        with server.connect() as other:  # the server goes on
            other.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(other, bytearray())[2] == b"plain"
            assert not is_closed(other, 0.1)


def test_a_reader_that_leaves_before_the_answer_begins_still_gets_it_closed() -> None:
    source = Source()
    with serving(handler=source.handler) as server:
        sock = server.connect()
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.close()
        deadline = time.monotonic() + 5
        while not source.closed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert source.closed and source.made == 0
