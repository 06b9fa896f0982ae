"""Moorings' own gRPC front end with grpcio's client: what a call gets besides the services' own tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from moorings.grpc.http2_server import GrpcHttp2Server
from moorings.http2 import frames as f
from tests.http2.raw_client import RawClient

LIMIT = 64 * 1024


class Handlers:
    def __init__(self) -> None:
        self.cancelled: list[str] = []
        self.metadata: list[Any] = []

    async def echo(self, request: bytes, context: Any) -> bytes:
        self.metadata.append(context.invocation_metadata())
        return request[::-1]

    async def slow(self, request: bytes, context: Any) -> bytes:
        try:
            await asyncio.sleep(float(request or b"5"))
        except asyncio.CancelledError:
            self.cancelled.append("slow")
            raise
        return b"done"

    async def remaining(self, request: bytes, context: Any) -> bytes:
        left = context.time_remaining()
        return b"none" if left is None else str(left).encode()

    async def abort(self, request: bytes, context: Any) -> bytes:
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, request.decode())
        raise AssertionError("abort returned")

    async def unimplemented(self, request: bytes, context: Any) -> bytes:
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)  # what generated servicer bases do
        context.set_details("Method not implemented!")
        raise NotImplementedError("Method not implemented!")

    async def broken(self, request: bytes, context: Any) -> bytes:
        raise RuntimeError("/secret/path/model.onnx exploded")

    async def big(self, request: bytes, context: Any) -> bytes:
        return b"x" * (LIMIT + 1)

    async def parsed(self, request: int, context: Any) -> bytes:
        return str(request).encode()

    async def stream(self, requests: Any, context: Any) -> Any:
        yield b""


def _parse(raw: bytes) -> int:
    return int(raw.decode("ascii"))


class Running:
    def __init__(self) -> None:
        self.handlers = Handlers()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        h = self.handlers
        unary = grpc.unary_unary_rpc_method_handler
        methods = {
            name: unary(getattr(h, name))
            for name in ("echo", "slow", "remaining", "abort", "unimplemented", "broken", "big")
        }
        methods["parsed"] = unary(h.parsed, request_deserializer=_parse)
        methods["stream"] = grpc.stream_stream_rpc_method_handler(h.stream)
        self.server = GrpcHttp2Server(LIMIT)
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.T", methods),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")

    def call(self, method: str, request: bytes = b"", **kwargs: Any) -> bytes:
        result: bytes = self.channel.unary_unary(f"/t.T/{method}")(
            request, timeout=kwargs.pop("timeout", 10), **kwargs
        )
        return result

    def error(self, method: str, request: bytes = b"", **kwargs: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            self.call(method, request, **kwargs)
        return info.value

    def close(self) -> None:
        self.channel.close()
        asyncio.run_coroutine_threadsafe(self.server.stop(1), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    server = Running()
    yield server
    server.close()


def test_unary_calls_and_metadata(running: Running) -> None:
    assert running.call("echo", b"abc", metadata=[("x-user", "ada"), ("x-blob-bin", b"\x00\xff")]) == b"cba"
    metadata = dict(running.handlers.metadata[-1])
    assert metadata["x-user"] == "ada" and metadata["x-blob-bin"] == b"\x00\xff"
    assert not any(key.startswith(":") or key in ("te", "content-type") for key in metadata)
    assert running.call("echo", b"") == b""
    assert running.call("parsed", b"42") == b"42"


def test_compressed_requests(running: Running) -> None:
    for compression in (grpc.Compression.Gzip, grpc.Compression.Deflate):
        assert running.call("echo", b"zipped" * 100, compression=compression) == b"deppiz" * 100


def test_deadlines_cancel_the_call(running: Running) -> None:
    error = running.error("slow", b"5", timeout=0.3)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    deadline = time.monotonic() + 5
    while "slow" not in running.handlers.cancelled:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    left = float(running.call("remaining", timeout=30))
    assert 25 < left <= 31  # grpc rounds the timeout it sends up a little
    assert running.call("remaining", timeout=None) == b"none"


def test_a_client_cancel_reaches_the_handler(running: Running) -> None:
    before = len(running.handlers.cancelled)
    future = running.channel.unary_unary("/t.T/slow").future(b"5", timeout=10)
    time.sleep(0.2)
    future.cancel()
    deadline = time.monotonic() + 5
    while len(running.handlers.cancelled) == before:
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("method", "request_bytes", "code", "details"),
    [
        ("nope", b"", grpc.StatusCode.UNIMPLEMENTED, "unknown method /t.T/nope"),
        ("stream", b"", grpc.StatusCode.UNIMPLEMENTED, "streaming method"),
        ("echo", b"x" * (LIMIT + 1), grpc.StatusCode.RESOURCE_EXHAUSTED, f"limit of {LIMIT} bytes"),
        ("big", b"", grpc.StatusCode.RESOURCE_EXHAUSTED, "response message"),
        ("abort", "naïve ✓ 100% done".encode(), grpc.StatusCode.FAILED_PRECONDITION, "naïve ✓ 100% done"),
        ("unimplemented", b"", grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!"),
        ("broken", b"", grpc.StatusCode.UNKNOWN, "RuntimeError"),
        ("parsed", b"not a number", grpc.StatusCode.INVALID_ARGUMENT, "not a valid message"),
    ],
)
def test_failures_carry_a_status(
    running: Running, method: str, request_bytes: bytes, code: grpc.StatusCode, details: str
) -> None:
    error = running.error(method, request_bytes)
    assert error.code() == code
    assert details in error.details()
    assert "/secret" not in error.details()


def test_many_concurrent_calls_on_one_channel(running: Running) -> None:
    futures = [running.channel.unary_unary("/t.T/slow").future(b"0.2", timeout=30) for _ in range(400)]
    assert [future.result() for future in futures] == [b"done"] * 400  # beyond 256 streams the client waits


def test_requests_that_are_not_grpc(running: Running) -> None:
    client = RawClient(running.port)
    client.handshake()
    get = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/t.T/echo"), (b":authority", b"t")]
    client.send(f.HEADERS, f.END_HEADERS | f.END_STREAM, 1, bytes(client.encoder.encode(get)))
    assert (":status", "405") in client.response(1)[0]
    json = [(b"content-type", b"application/json")]
    client.send(f.HEADERS, f.END_HEADERS | f.END_STREAM, 3, client.headers_block(b"/t.T/echo", json))
    assert (":status", "415") in client.response(3)[0]
    grpc_type = [(b"content-type", b"application/grpc")]
    client.send(f.HEADERS, f.END_HEADERS, 5, client.headers_block(b"/t.T/echo", grpc_type))
    client.send(f.DATA, f.END_STREAM, 5, b"\x00\x00\x00\x00\x09abc")  # says 9 bytes, holds 3
    headers, _, _ = client.response(5)
    assert ("grpc-status", str(grpc.StatusCode.INTERNAL.value[0])) in headers
    client.close()
