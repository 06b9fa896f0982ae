"""One HTTP/2 request as the handler sees it: its headers, its whole body, the way to answer it.

A stream knows its connection only as a :class:`Sender`, the few calls an answer needs, so this
module imports nothing of the connection's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from moorings.http2 import frames as f
from moorings.http2.header_blocks import Headers


class Sender(Protocol):
    """What a stream's answer needs from its connection."""

    closed: bool
    peer_max_frame: int

    def write(self, data: bytes) -> None: ...

    def send_data(self, stream: Stream) -> None: ...

    def finished(self, stream: Stream) -> None: ...


class Stream:
    """A request (headers, whole body) and the way to answer it."""

    __slots__ = (
        "_connection",
        "_out",
        "_trailers",
        "answered",
        "blocked_since",
        "body",
        "dispatched",
        "ended",
        "headers",
        "id",
        "on_reset",
        "opened_at",
        "oversized",
        "recv_window",
        "send_window",
        "unacked",
    )  # fmt: skip

    def __init__(
        self,
        connection: Sender,
        stream_id: int,
        headers: Headers,
        send_window: int,
        recv_window: int,
        opened_at: float = 0.0,
    ) -> None:
        self.id = stream_id
        self.headers = headers
        self.body = bytearray()
        self.ended = False  # the client sent END_STREAM
        self.oversized = False  # the body passed Limits.max_body_bytes; the rest is dropped
        self.on_reset: Callable[[], object] | None = None  # called if the client resets or disconnects
        self.send_window = send_window
        self.recv_window = recv_window
        self.unacked = 0
        self.dispatched = False
        self.answered = False
        self.opened_at = opened_at  # loop time of its HEADERS
        self.blocked_since: float | None = None  # loop time its answer began waiting for a window
        self._connection: Sender | None = connection
        self._out = memoryview(b"")
        self._trailers = b""

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def respond(self, head: bytes, data: bytes, trailers: bytes) -> None:
        """Send a header block, the data (as the client's windows allow), then trailers ending the stream."""
        if self.answered:
            return
        self.answered = True
        connection = self._connection
        if connection is None or connection.closed:
            return
        self._out, self._trailers = memoryview(data), trailers
        connection.write(f.header_frames(self.id, head, False, connection.peer_max_frame))
        connection.send_data(self)

    def respond_headers(self, block: bytes) -> None:
        """Answer with one header block that ends the stream (e.g. a gRPC trailers-only error)."""
        if self.answered:
            return
        self.answered = True
        connection = self._connection
        if connection is not None and not connection.closed:
            connection.write(f.header_frames(self.id, block, True, connection.peer_max_frame))
            connection.finished(self)

    def release(self) -> None:
        """Drop what the stream holds (body, unsent answer, its connection): it is over."""
        self.answered = True
        self.body = bytearray()
        self._out = memoryview(b"")
        self._trailers = b""
        self._connection = None
