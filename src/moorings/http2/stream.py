"""One HTTP/2 request as the handler sees it: its headers, its whole body, the way to answer it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from moorings.http2 import frames as f
from moorings.http2.header_blocks import Headers

if TYPE_CHECKING:
    from moorings.http2.connection import Http2Connection


class Stream:
    """A request (headers, whole body) and the way to answer it."""

    __slots__ = (
        "_connection",
        "_out",
        "_trailers",
        "answered",
        "body",
        "dispatched",
        "ended",
        "headers",
        "id",
        "on_reset",
        "oversized",
        "recv_window",
        "send_window",
        "unacked",
    )  # fmt: skip

    def __init__(
        self, connection: Http2Connection, stream_id: int, headers: Headers, send_window: int
    ) -> None:
        self.id = stream_id
        self.headers = headers
        self.body = bytearray()
        self.ended = False  # the client sent END_STREAM
        self.oversized = False  # the body passed Limits.max_body_bytes; the rest is dropped
        self.on_reset: Callable[[], object] | None = None  # called if the client resets or disconnects
        self.send_window = send_window
        self.recv_window = connection.limits.stream_window
        self.unacked = 0
        self.dispatched = False
        self.answered = False
        self._connection = connection
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
        if connection.closed:
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
        if not connection.closed:
            connection.write(f.header_frames(self.id, block, True, connection.peer_max_frame))
            connection.finished(self)
