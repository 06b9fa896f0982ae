"""Moorings' HTTP/1.1 server, driven over real sockets with raw bytes.

The handler here is a small echo (the REST API is tested elsewhere); what is
under test is the wire: keep-alive, pipelining order, limits, timeouts, errors.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import orjson
import pytest

from moorings.http1 import HttpServer, Limits
from moorings.http1.connection import Handler
from moorings.http1.messages import Answer, Request

SEEN: list[bytes] = []


async def echo(request: Request) -> Answer:
    """Echo the request; ``/sleep/<ms>`` waits first, ``/boom`` raises. Paths run are kept in SEEN."""
    SEEN.append(request.raw_path)
    parts = request.raw_path.split(b"/")
    if parts[1:2] == [b"sleep"]:
        await asyncio.sleep(int(parts[2]) / 1000)
    if request.raw_path == b"/boom":
        raise RuntimeError("/secret/path/model.onnx exploded")
    body = orjson.dumps(
        {
            "method": request.method,
            "path": request.raw_path.decode(),
            "body": request.body.decode("latin-1"),
            "headers": {k.decode(): v.decode() for k, v in request.headers},
        }
    )
    return 200, body, [(b"content-type", b"application/json")]


class Running:
    def __init__(self, server: HttpServer, loop: asyncio.AbstractEventLoop, port: int) -> None:
        self.server, self.loop, self.port = server, loop, port

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return sock

    def stop(self, grace: float = 5) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(grace), self.loop).result(grace + 5)


@contextmanager
def serving(
    limits: Limits | None = None,
    sweep_seconds: float = 0.05,
    handler: Handler = echo,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop,
) -> Iterator[Running]:
    loop = loop_factory()
    server = HttpServer(handler, "127.0.0.1", 0, limits or Limits(), sweep_seconds=sweep_seconds)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(5)
    running = Running(server, loop, server.ports[0])
    try:
        yield running
    finally:
        running.stop(1)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """Read one response (status, lower-case headers, body) from ``sock``; extra bytes stay in ``buffer``."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a whole response head: {bytes(buffer)!r}")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a response body")
        rest += chunk
    buffer[:] = rest[length:]
    return status, headers, rest[:length]


def is_closed(sock: socket.socket, timeout: float = 2.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def expect_error_and_close(sock: socket.socket, status: int, *texts: bytes) -> None:
    """The next answer is ``status`` with an error naming each of ``texts``, and the server closes."""
    got, _, body = read_response(sock, bytearray())
    assert got == status, body
    for text in texts:
        assert text in body, body
    assert is_closed(sock)


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    with serving() as server, server.connect() as sock:
        buffer = bytearray()
        for i in range(3):
            sock.sendall(post(f"/v1/models/m{i}:predict?x=1", b'{"instances": [1]}'))
            status, headers, body = read_response(sock, buffer)
            answer = orjson.loads(body)
            assert status == 200
            assert answer["path"] == f"/v1/models/m{i}:predict"  # the query string is not part of the path
            assert answer["body"] == '{"instances": [1]}'
            assert answer["headers"]["host"] == "x"  # names arrive in lower case
            assert headers["content-type"] == "application/json"
            assert "date" in headers and "connection" not in headers
        assert not is_closed(sock, 0.2)


def test_pipelined_answers_leave_in_request_order() -> None:
    with serving() as server, server.connect() as sock:
        # the first request is the slowest: its answer must still come first
        sock.sendall(post("/sleep/300", b"a") + post("/sleep/0", b"b") + post("/sleep/100", b"c"))
        buffer = bytearray()
        bodies = [orjson.loads(read_response(sock, buffer)[2])["body"] for _ in range(3)]
        assert bodies == ["a", "b", "c"]


def test_connection_close_and_http_1_0_close_after_the_answer() -> None:
    with serving() as server:
        with server.connect() as sock:
            sock.sendall(post("/a", b"x", "Connection: close\r\n"))
            status, headers, _ = read_response(sock, bytearray())
            assert status == 200 and headers["connection"] == "close"
            assert is_closed(sock)
        with server.connect() as sock:
            sock.sendall(b"GET /a HTTP/1.0\r\n\r\n")
            assert read_response(sock, bytearray())[0] == 200
            assert is_closed(sock)


def test_requests_pipelined_behind_connection_close_are_not_run() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(post("/first", b"", "Connection: close\r\n") + post("/never-run", b""))
        assert read_response(sock, bytearray())[0] == 200
        assert is_closed(sock)
        assert b"/first" in SEEN and b"/never-run" not in SEEN


def test_http_1_0_keep_alive_is_announced_and_kept() -> None:
    with serving() as server, server.connect() as sock:
        buffer = bytearray()
        for _ in range(2):
            sock.sendall(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, _ = read_response(sock, buffer)
            assert status == 200 and headers["connection"] == "keep-alive"
        assert not is_closed(sock, 0.2)


def test_a_body_over_the_limit_gets_413_by_declared_length_and_by_chunks() -> None:
    with serving(Limits(max_body_bytes=100)) as server:
        with server.connect() as sock:
            sock.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 101\r\n\r\n")
            expect_error_and_close(sock, 413, b"101 bytes", b"100 bytes")
        with server.connect() as sock:
            chunk = b"x" * 60
            sock.sendall(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            sock.sendall(b"3c\r\n" + chunk + b"\r\n3c\r\n" + chunk + b"\r\n0\r\n\r\n")
            expect_error_and_close(sock, 413, b"over the limit of 100 bytes")


def test_chunked_bodies_are_reassembled() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        sock.sendall(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        assert orjson.loads(read_response(sock, bytearray())[2])["body"] == "hello world"


def test_expect_100_continue_is_answered_before_the_body() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        buffer = bytearray()
        status, _, _ = read_response(sock, buffer)
        assert status == 100
        sock.sendall(b"body")
        status, _, body = read_response(sock, buffer)
        assert status == 200 and orjson.loads(body)["body"] == "body"


def test_a_head_over_the_limit_gets_431() -> None:
    with serving(Limits(max_head_bytes=1024)) as server, server.connect() as sock:
        sock.sendall(b"GET /a HTTP/1.1\r\nX-Big: " + b"y" * 2000 + b"\r\n\r\n")
        expect_error_and_close(sock, 431, b"1024 bytes")


@pytest.mark.parametrize(
    "raw",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"GET /a HTTP/1.1\r\nBad Header Name: 1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_requests_get_400_and_the_server_goes_on(raw: bytes) -> None:
    with serving() as server:
        with server.connect() as sock:
            sock.sendall(raw)
            expect_error_and_close(sock, 400, b"malformed HTTP request")
        with server.connect() as sock:
            sock.sendall(post("/a", b"ok"))
            assert read_response(sock, bytearray())[0] == 200


def test_a_handler_error_is_a_500_without_details() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(post("/boom", b"") + post("/a", b"after"))
        buffer = bytearray()
        status, _, body = read_response(sock, buffer)
        assert status == 500 and b"secret" not in body and b"onnx" not in body
        assert read_response(sock, buffer)[0] == 200  # the connection is still usable


def test_head_answers_carry_no_body() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(b"HEAD /a HTTP/1.1\r\n\r\n" + post("/b", b"next"))
        sock.settimeout(5)
        data = b""
        while data.count(b"\r\n\r\n") < 2 or not data.endswith(b"}"):
            data += sock.recv(65536)
        first, _, rest = data.partition(b"\r\n\r\n")
        assert first.startswith(b"HTTP/1.1 200") and b"content-length: " in first
        assert rest.startswith(b"HTTP/1.1 200")  # the next answer follows the head at once


def test_idle_connections_close_after_the_keep_alive_time() -> None:
    with serving(Limits(keep_alive_seconds=0.3)) as server, server.connect() as sock:
        sock.sendall(post("/a", b""))
        read_response(sock, bytearray())
        started = time.monotonic()
        assert is_closed(sock, timeout=3)
        assert 0.2 < time.monotonic() - started < 2


def test_a_request_that_does_not_arrive_in_time_gets_408() -> None:
    with serving(Limits(request_seconds=0.3)) as server, server.connect() as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf")
        expect_error_and_close(sock, 408, b"did not arrive")


def test_absolute_form_urls_route_by_their_path() -> None:
    with serving() as server, server.connect() as sock:
        sock.sendall(b"GET http://example.com/v2/health/live?x HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert orjson.loads(read_response(sock, bytearray())[2])["path"] == "/v2/health/live"


def test_a_client_that_leaves_mid_answer_does_not_disturb_the_others() -> None:
    with serving() as server:
        with server.connect() as gone:
            gone.sendall(post("/sleep/200", b"x") + post("/sleep/200", b"y"))
        with server.connect() as sock:
            sock.sendall(post("/a", b"still here"))
            assert orjson.loads(read_response(sock, bytearray())[2])["body"] == "still here"


def test_stop_finishes_answers_owed_and_refuses_new_connections() -> None:
    with serving() as server:
        sock = server.connect()
        sock.sendall(post("/sleep/400", b"owed"))
        time.sleep(0.1)
        stopping = threading.Thread(target=server.stop, args=(5,))
        stopping.start()
        status, headers, body = read_response(sock, bytearray())
        assert status == 200 and orjson.loads(body)["body"] == "owed"
        assert headers["connection"] == "close"
        assert is_closed(sock)
        stopping.join(5)
        with pytest.raises(OSError):
            server.connect()
        sock.close()


def test_many_concurrent_connections() -> None:
    with serving() as server:
        socks = [server.connect() for _ in range(50)]
        for i, sock in enumerate(socks):
            sock.sendall(post("/sleep/50", str(i).encode()))
        for i, sock in enumerate(socks):
            assert orjson.loads(read_response(sock, bytearray())[2])["body"] == str(i)
            sock.close()
