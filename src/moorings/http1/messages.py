"""The request and answer types of the HTTP/1.1 transport, which the app it serves speaks too.

The transport hands the app a ``Request`` and awaits an ``Answer``; it knows
nothing else of the app. The REST app builds the same ``Request`` when it runs
as an ASGI callable (uvicorn), so its routes see one type whatever server read
the request off the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

Headers = list[tuple[bytes, bytes]]
#: a request body: bytes, or a bytearray when the HTTP/1.1 server read a large body into one buffer
Body = bytes | bytearray


class Streamed:
    """A body sent while it is made (server-sent events): the pieces ``chunks`` yields, each
    written as soon as the client has taken the ones before it (chunked transfer coding).

    The server awaits ``close()`` once the answer is over, whether every piece was written, the
    client went away, or nothing could be written at all (the client left before the answer
    began: ``chunks`` may never have been iterated); it stops whatever makes the pieces.
    """

    __slots__ = ("chunks", "close")

    def __init__(self, chunks: AsyncIterator[bytes], close: Callable[[], Awaitable[None]]) -> None:
        self.chunks = chunks
        self.close = close


#: what a route answers: status, body and headers (the server adds content-length, or streams
#: a ``Streamed`` body)
Answer = tuple[int, bytes | Streamed, Headers]


@dataclass(slots=True)
class Request:
    method: str
    #: the path as sent, percent-encoded, without the query string
    raw_path: bytes
    #: header names in lower case, values as sent
    headers: Headers
    #: the whole body, already read and held to the server's size limit
    body: Body

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` in lower case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def shown_path(self) -> str:
        """The path for error messages: printable, at most 200 characters."""
        return self.raw_path[:200].decode("utf-8", "replace")


class Slot:
    """The answer to one request, once it is ready."""

    __slots__ = ("data", "http10", "keep_alive", "with_body")

    def __init__(self, keep_alive: bool, with_body: bool, http10: bool = False) -> None:
        self.data: bytes | None = None
        self.keep_alive = keep_alive
        self.with_body = with_body
        self.http10 = http10
