"""An HTTP/2 server on its own event loop thread whose handler echoes request bodies reversed.

Paths: ``/echo`` answers at once; ``/hold`` keeps the stream until the test calls ``release()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from moorings.http2 import Http2Server, Limits, Stream, listening_socket
from moorings.http2.header_blocks import literal, status


class EchoServer:
    def __init__(self, limits: Limits) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.held: list[Stream] = []
        self.resets: list[int] = []
        self.oversized: list[int] = []
        self.server = Http2Server(self._handle, limits)
        sock = listening_socket("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        asyncio.run_coroutine_threadsafe(self.server.start([sock]), self.loop).result(10)

    def _handle(self, stream: Stream) -> None:
        stream.on_reset = lambda: self.resets.append(stream.id)
        if stream.oversized:
            self.oversized.append(stream.id)
            stream.respond_headers(status(413))
        elif stream.header(b":path") == b"/hold":
            self.held.append(stream)
        else:
            self._answer(stream)

    @staticmethod
    def _answer(stream: Stream) -> None:
        head = status(200) + literal(b"x-length", str(len(stream.body)).encode())
        stream.respond(head, bytes(stream.body[::-1]), literal(b"x-done", b"1"))

    def release(self) -> None:
        def answer_all() -> None:
            for stream in self.held:
                self._answer(stream)
            self.held.clear()

        self.loop.call_soon_threadsafe(answer_all)

    def call(self, function: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(function)

    def stop(self, grace: float = 5.0) -> asyncio.Future[None]:
        return asyncio.run_coroutine_threadsafe(self.server.stop(grace), self.loop)  # type: ignore[return-value]

    def close(self) -> None:
        self.stop(0).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def echo_server() -> Iterator[Callable[..., EchoServer]]:
    servers: list[EchoServer] = []

    def start(**limits: int | float) -> EchoServer:
        server = EchoServer(Limits(**limits))  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
