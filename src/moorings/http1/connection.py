"""One HTTP/1.1 connection: httptools parses, the app answers, answers leave in request order.

Per request the connection collects the URL, the headers (names lower-cased)
and the body, then starts one task that awaits the app's answer. Clients may
pipeline: every request gets a slot in a queue and answers are written from
the head of the queue as they become ready, so they leave in the order the
requests came. Reading pauses while too many answers are outstanding or while
the client does not read what we write.

Limits (``Limits``): a body over the limit gets 413 as soon as its declared or
received length passes it, a head over the limit 431, a malformed request 400,
a request that does not arrive in time 408; each of these closes the connection
after the answers before it. Idle keep-alive connections are closed by the
server's sweep (``check_timeouts``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import httptools
import orjson

from moorings.http1 import wire
from moorings.http1.limits import Limits
from moorings.rest.request import Answer, Headers, Request

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Answer]]
ERROR_HEADERS: Headers = [(b"content-type", b"application/json")]


class _Rejected(Exception):
    """Raised inside a parser callback to stop parsing; the reason is on the connection."""


class _Slot:
    """The answer to one request, once it is ready."""

    __slots__ = ("data", "http10", "keep_alive", "with_body")

    def __init__(self, keep_alive: bool, with_body: bool, http10: bool = False) -> None:
        self.data: bytes | None = None
        self.keep_alive = keep_alive
        self.with_body = with_body
        self.http10 = http10


class HttpConnection(asyncio.Protocol):
    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        connections: set[HttpConnection],
        date: wire.DateHeader,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._handler = handler
        self._limits = limits
        self._connections = connections
        self._date = date
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        # the request being read
        self._url: list[bytes] = []
        self._headers: Headers = []
        self._body: list[bytes] = []
        self._head_size = 0
        self._body_size = 0
        self._reading = False
        self._started = 0.0
        self._reject: tuple[int, str] | None = None
        # answers, in request order
        self._pending: deque[_Slot] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reading_paused = False
        self._writing_paused = False
        self._closing = False  # read no more requests; close once the answers owed are written
        self._draining = False  # the server is stopping: finish the request being read, then close
        self._last_active = loop.time()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._pending.clear()
        self._connections.discard(self)

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._maybe_resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._last_active = self._loop.time()
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # upgrades (WebSocket, h2c) are not spoken here: answer the request as plain HTTP, then close
            self._close_after_pending()
        except httptools.HttpParserCallbackError:
            status, message = self._reject or (500, "internal server error")
            self._fail(status, message)
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed HTTP request: {str(exc)[:100]}")

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._url = []
        self._headers = []
        self._body = []
        self._head_size = 0
        self._body_size = 0
        self._reading = True
        self._started = self._last_active

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.lower(), value))
        self._grow_head(len(name) + len(value) + 4)

    def on_headers_complete(self) -> None:
        limit = self._limits.max_body_bytes
        expect_continue = False
        for name, value in self._headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                self._stop(413, f"the request body is {int(value)} bytes; the limit is {limit} bytes")
            elif name == b"expect" and value.lower() == b"100-continue":
                expect_continue = True
        if expect_continue and self._transport is not None:
            self._transport.write(wire.CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._limits.max_body_bytes:
            self._stop(413, f"the request body is over the limit of {self._limits.max_body_bytes} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._reading = False
        if self._closing:
            return  # pipelined behind a request that closes the connection: never run
        parser = self._parser
        method = parser.get_method().decode("ascii", "replace")
        url = self._url[0] if len(self._url) == 1 else b"".join(self._url)
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        keep_alive = parser.should_keep_alive() and not self._closing and not self._draining
        slot = _Slot(keep_alive, method != "HEAD", keep_alive and parser.get_http_version() == "1.0")
        self._pending.append(slot)
        if not keep_alive:
            self._closing = True
            self._pause_reading()
        elif len(self._pending) >= self._limits.max_pipelined:
            self._pause_reading()
        request = Request(method, _path_of(url), self._headers, body)
        task = self._loop.create_task(self._answer(request, slot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # answering

    async def _answer(self, request: Request, slot: _Slot) -> None:
        try:
            status, body, headers = await self._handler(request)
        except Exception:
            log.exception("unhandled error answering %s %s", request.method, request.shown_path)
            body = _error_body("internal server error; see the server log")
            status, headers = 500, ERROR_HEADERS
        slot.data = wire.response(
            status, headers, body, self._date.line(), slot.keep_alive, slot.with_body, slot.http10
        )
        self._flush()

    def _flush(self) -> None:
        pending = self._pending
        transport = self._transport
        while pending:
            data = pending[0].data
            if data is None:
                break
            slot = pending.popleft()
            if transport is None:
                return
            transport.write(data)
            if not slot.keep_alive:
                self._closing = True
                pending.clear()
                transport.close()
                return
        self._last_active = self._loop.time()
        if (self._closing or self._draining) and not pending and not self._reading and transport is not None:
            transport.close()
        else:
            self._maybe_resume_reading()

    def _fail(self, status: int, message: str) -> None:
        """Answer an error after the answers already owed, then close."""
        slot = _Slot(False, True)
        slot.data = wire.response(status, ERROR_HEADERS, _error_body(message), self._date.line(), False)
        self._pending.append(slot)
        self._closing = True
        self._reading = False
        self._pause_reading()
        self._flush()

    def _stop(self, status: int, message: str) -> None:
        self._reject = (status, message)
        raise _Rejected

    def _grow_head(self, size: int) -> None:
        self._head_size += size
        limit = self._limits.max_head_bytes
        if self._head_size > limit:
            self._stop(431, f"the request line and headers are over the limit of {limit} bytes")

    def _close_after_pending(self) -> None:
        self._closing = True
        self._pause_reading()
        for slot in self._pending:
            slot.keep_alive = False
        if not self._pending and self._transport is not None:
            self._transport.close()

    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()

    def _maybe_resume_reading(self) -> None:
        if (
            self._reading_paused
            and not self._writing_paused
            and not self._closing
            and len(self._pending) < self._limits.max_pipelined
            and self._transport is not None
        ):
            self._reading_paused = False
            self._transport.resume_reading()

    # called by the server

    def check_timeouts(self, now: float) -> None:
        """Close an idle keep-alive connection; answer 408 to a request that is taking too long to arrive."""
        if self._pending or self._transport is None or (self._closing and not self._reading):
            return
        if self._reading:
            if now - self._started > self._limits.request_seconds:
                self._fail(408, f"the request did not arrive within {self._limits.request_seconds:g} s")
        elif now - self._last_active > self._limits.keep_alive_seconds:
            self._transport.close()

    def shutdown(self) -> None:
        """Server stopping: finish the request being read and the answers owed, then close."""
        self._draining = True
        for slot in self._pending:
            slot.keep_alive = False
        if not self._pending and not self._reading and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._transport is not None:
            self._transport.abort()

    @property
    def busy(self) -> bool:
        return bool(self._pending)


def _path_of(url: bytes) -> bytes:
    """The path of an origin-form URL (``/a/b?q``) or of an absolute-form one (``http://h/a/b``)."""
    if url[:1] == b"/":
        end = url.find(b"?")
        return url if end < 0 else url[:end]
    try:
        return httptools.parse_url(url).path or b"/"
    except httptools.HttpParserInvalidURLError:
        return url[:200]


def _error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})
