"""Helpers for the hostile HTTP/2 tests: a server with given limits, a client after the handshake."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from moorings.http2 import Limits
from moorings.http2 import frames as f
from tests.http2.conftest import EchoServer
from tests.http2.raw_client import RawClient


@contextlib.contextmanager
def echo_server(**limits: int | float) -> Iterator[EchoServer]:
    server = EchoServer(Limits(**limits))  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.close()


def connect(server: EchoServer, settings: dict[int, int] | None = None) -> RawClient:
    client = RawClient(server.port)
    client.handshake(settings)
    return client


def send_quietly(client: RawClient, data: bytes) -> None:
    """Send ``data``; a server that closed meanwhile (what the attack should get) is no failure."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        client.sock.sendall(data)


def goaway_and_close(client: RawClient, timeout: float = 5.0) -> int:
    """The GOAWAY code the server sent; it must close the connection afterwards."""
    code = client.goaway_code(timeout)
    try:
        while True:
            client.read(timeout)
    except (EOFError, ConnectionResetError):
        return code
    raise AssertionError("unreachable")


EMPTY_CONTINUATION = bytes.fromhex("000000090000000001")  # length 0, CONTINUATION, no flags, stream 1
PRIORITY_FRAME = f.frame(f.PRIORITY, 0, 1, b"\x00\x00\x00\x00\x10")
