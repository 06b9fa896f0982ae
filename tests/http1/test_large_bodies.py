"""Large request bodies (images, audio: ``LARGE_BODY`` bytes and more) over real sockets.

Cut as a client may cut them: the whole request in one write, the body in small
pieces, requests pipelined before and after a large one, a head split over two
writes, Expect: 100-continue, chunked bodies, a body that stalls. The handler
answers with the body's length, SHA-256 and type, so a byte lost, repeated or
taken from the next request shows; ``bytes`` shows the parser read the body in
one piece, a ``bytearray`` that it was read past the parser into one buffer
(or gathered by the parser from several pieces).
"""

from __future__ import annotations

import hashlib
import threading

import orjson
import pytest

from moorings.http1 import Limits
from moorings.http1.large_body import LARGE_BODY, LargeRequest
from moorings.http1.messages import Answer, Request
from tests.http1.test_server import expect_error_and_close, is_closed, post, read_response, serving


async def digest(request: Request) -> Answer:
    body = orjson.dumps(
        {
            "path": request.raw_path.decode(),
            "length": len(request.body),
            "sha256": hashlib.sha256(request.body).hexdigest(),
            "type": type(request.body).__name__,
        }
    )
    return 200, body, [(b"content-type", b"application/json")]


def payload(size: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(size))


def check(answer: bytes, path: str, body: bytes, kind: str | None) -> None:
    """The answer is about this body; ``kind`` is the body's type on the server (None: either)."""
    got = orjson.loads(answer)
    want = {"path": path, "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    assert {k: got[k] for k in want} == want
    assert got["type"] == kind or kind is None


def test_a_large_body_in_one_write_then_a_small_request_on_the_same_connection() -> None:
    body = payload(600_000)
    with serving(handler=digest) as server, server.connect() as sock:
        buffer = bytearray()
        sock.sendall(post("/big", body))
        status, _, answer = read_response(sock, buffer)
        assert status == 200
        check(answer, "/big", body, "bytearray")
        sock.sendall(post("/small", b"abc"))
        check(read_response(sock, buffer)[2], "/small", b"abc", "bytes")
        assert not is_closed(sock, 0.2)


@pytest.mark.parametrize("piece", [1, 997, 65_536])
def test_a_large_body_arriving_in_pieces_is_whole(piece: int) -> None:
    body = payload(LARGE_BODY + 12_345 if piece > 1 else LARGE_BODY)
    request = post("/pieces", body)
    head_end = request.index(b"\r\n\r\n") + 4
    with serving(handler=digest) as server, server.connect() as sock:
        sock.sendall(request[:head_end])
        for start in range(head_end, len(request), piece):
            sock.sendall(request[start : start + piece])
        check(read_response(sock, bytearray())[2], "/pieces", body, "bytearray")


def test_requests_pipelined_around_large_ones_are_answered_in_order() -> None:
    first, second = payload(LARGE_BODY, 1), payload(200_000, 2)
    with serving(handler=digest) as server, server.connect() as sock:
        # large, small, large, small in one write: the bytes after each large body are the next request
        sock.sendall(post("/1", first) + post("/2", b"x") + post("/3", second) + post("/4", b""))
        buffer = bytearray()
        check(read_response(sock, buffer)[2], "/1", first, "bytearray")
        check(read_response(sock, buffer)[2], "/2", b"x", "bytes")
        # behind a request completed in the same read the parser reads the body; where this one
        # starts a read (as the bytes arrive) its body is read past the parser
        check(read_response(sock, buffer)[2], "/3", second, None)
        check(read_response(sock, buffer)[2], "/4", b"", "bytes")


def test_a_large_request_whose_head_is_split_over_two_writes() -> None:
    body = payload(100_000)
    request = post("/split", body)
    with serving(handler=digest) as server, server.connect() as sock:
        sock.sendall(request[:20])
        threading.Event().wait(0.1)  # the server reads the first part on its own
        sock.sendall(request[20:])
        check(read_response(sock, bytearray())[2], "/split", body, None)


def test_expect_100_continue_then_a_large_body() -> None:
    body = payload(300_000)
    with serving(handler=digest) as server, server.connect() as sock:
        head = f"POST /continue HTTP/1.1\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
        sock.sendall(head.encode())
        buffer = bytearray()
        assert read_response(sock, buffer)[0] == 100
        sock.sendall(body)
        check(read_response(sock, buffer)[2], "/continue", body, "bytearray")


def test_a_large_chunked_body() -> None:
    body = payload(200_000)
    with serving(handler=digest) as server, server.connect() as sock:
        chunks = b"".join(
            f"{len(part):x}\r\n".encode() + part + b"\r\n"
            for part in (body[i : i + 50_000] for i in range(0, len(body), 50_000))
        )
        head = b"POST /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head + chunks + b"0\r\n\r\n")
        check(read_response(sock, bytearray())[2], "/chunked", body, "bytearray")


def test_connection_close_on_a_large_request_closes_after_its_answer() -> None:
    body = payload(LARGE_BODY)
    with serving(handler=digest) as server, server.connect() as sock:
        sock.sendall(post("/close", body, "Connection: close\r\n") + post("/never", b""))
        status, headers, answer = read_response(sock, bytearray())
        assert status == 200 and headers["connection"] == "close"
        check(answer, "/close", body, "bytearray")
        assert is_closed(sock)


def test_a_large_body_that_stops_arriving_gets_408() -> None:
    with serving(Limits(request_seconds=0.3), handler=digest) as server, server.connect() as sock:
        sock.sendall(post("/stalled", payload(LARGE_BODY))[:-10])
        expect_error_and_close(sock, 408, b"did not arrive within")


def test_a_large_body_over_the_limit_gets_413_before_it_is_read() -> None:
    with serving(Limits(max_body_bytes=LARGE_BODY), handler=digest) as server, server.connect() as sock:
        sock.sendall(f"POST /a HTTP/1.1\r\nContent-Length: {LARGE_BODY + 1}\r\n\r\n".encode())
        expect_error_and_close(sock, 413, str(LARGE_BODY + 1).encode())


def test_a_body_larger_than_the_first_buffer_arrives_whole() -> None:
    body = payload(3 * 1024 * 1024 + 5)
    with serving(handler=digest) as server, server.connect() as sock:
        sock.sendall(post("/grown", body))
        check(read_response(sock, bytearray())[2], "/grown", body, "bytearray")


def test_a_declared_length_alone_does_not_reserve_the_whole_body() -> None:
    # a client that announces 48 MiB and sends nothing makes the server hold nothing for the body
    large = LargeRequest(48 * 1024 * 1024, b"POST", True, False)
    assert len(large.body) == 0
    data = payload(3 * 1024 * 1024)
    for start in range(0, len(data), 100_000):
        piece = memoryview(data)[start : start + 100_000]
        assert large.take(piece) == len(piece)
        assert len(large.body) <= 2 * large.filled  # the buffer follows the bytes that came
    assert bytes(large.body[: large.filled]) == data
    rest = payload(100, 9)
    small = LargeRequest(LARGE_BODY, b"POST", True, False)
    assert small.take(memoryview(payload(LARGE_BODY) + rest)) == LARGE_BODY  # never past the body
    assert len(small.body) == LARGE_BODY  # nor does the buffer grow past its length
