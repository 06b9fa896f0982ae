"""One HTTP/1.1 connection: httptools parses, the app answers, answers leave in request order.

Per request the connection collects the URL, the headers (names lower-cased)
and the body, then a task awaits the app's answer. Clients may pipeline: every
request gets a slot in a queue, and the requests of one connection run one
after another, as if the client had waited for each answer (so a pipelining
client gets the answers a serial one would); answers are written from the head
of the queue, in the order the requests came. Reading pauses while too many
answers are outstanding, while the bodies of the requests waiting for their
turn are too large, or while the client does not read what we write.

Bytes are read into a buffer the server shares between its connections (all on
one event loop thread) and parsed from there. A large body with a Content-Length
(an image, audio) is read past the parser into one buffer of its own (see
``large_body.py``), unless the parser would end the request at its head (CONNECT,
an upgrade). Bodies through the parser gather in one growing bytearray (one bytes
object when they arrive in one piece), never a list of pieces.

Limits (``Limits``): a body over the limit gets 413 as soon as its declared or
received length passes it, a request-target over the limit 414, a head over the
limit (in bytes or in fields) 431, a chunked body of too many small chunks 400,
a malformed request 400, a request that does not arrive in time 408; each of
these closes the connection after the answers before it. Idle keep-alive
connections are closed by the server's sweep (``check_timeouts``). A closed connection drops its parser (which
refers back to it), so it is freed at once, without waiting for a garbage
collection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import httptools

from moorings.http1 import wire
from moorings.http1.large_body import LARGE_BODY, LargeRequest, end_of_head
from moorings.http1.limits import Limits
from moorings.http1.messages import Answer, Body, Headers, Request, Slot, Streamed

log = logging.getLogger(__name__)

#: the size of the read buffer a server shares between its connections
READ_BUFFER = 64 * 1024
#: a read is parsed this many bytes at a time, so parsing can stop between requests (see ``_feed``)
PARSE_SLICE = 2048

Handler = Callable[[Request], Awaitable[Answer]]
ERROR_HEADERS: Headers = [(b"content-type", b"application/json")]
_P = ord("P")


class _Rejected(Exception):
    """Raised inside a parser callback to stop parsing; the reason is on the connection."""


class _LargeBody(Exception):
    """Raised in ``on_headers_complete`` to stop the parser at a large body, which is read directly."""


class _Closed:
    """The protocol of the parser a closed connection keeps: it has no callbacks and refers to nothing."""


#: replaces a closed connection's parser, whose callbacks are bound to the connection (a cycle)
_CLOSED_PARSER = httptools.HttpRequestParser(_Closed())


class HttpConnection(asyncio.BufferedProtocol):
    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        connections: set[HttpConnection],
        date: wire.DateHeader,
        loop: asyncio.AbstractEventLoop,
        read_buffer: bytearray,
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
        self._body: Body = b""  # one piece as it came; a bytearray once a second piece comes
        self._head_size = 0
        self._body_size = 0
        self._chunks = 0
        #: the body length a Content-Length declared (-1: none, or a transfer coding)
        self._declared = -1
        self._reading = False
        self._started = 0.0
        self._reject: tuple[int, str] | None = None
        # reading: the shared buffer, and the part of it being parsed now when a request starts at its
        # first byte (None: one was already being read, or one completed in it; see ``_read_large_body``)
        self._buffer = read_buffer
        self._view = memoryview(read_buffer)
        self._fresh: tuple[int, int] | None = None
        #: a large body being read past the parser, and where it starts in the bytes parsed
        self._large: LargeRequest | None = None
        self._large_start = 0
        self._into_body = False  # the last buffer handed out was the large body's own
        self._unparsed = b""  # bytes read but not parsed yet: parsing stopped to wait (see ``_feed``)
        # answers, in request order; one request runs at a time, the others wait their turn
        self._pending: deque[Slot] = deque()
        self._task: asyncio.Task[None] | None = None
        self._waiting: deque[tuple[Request, Slot]] = deque()
        self._waiting_bytes = 0
        self._reading_paused = False
        self._writing_paused = False
        self._closing = False  # read no more requests; close once the answers owed are written
        self._draining = False  # the server is stopping: finish the request being read, then close
        self._last_active = loop.time()
        #: a Streamed answer is being written (see ``_stream``), and what it waits on to write more
        self._streaming = False
        self._drained: asyncio.Future[None] | None = None

    # asyncio.BufferedProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is not a subclass
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._pending.clear()
        self._waiting.clear()
        self._waiting_bytes = 0
        self._connections.discard(self)
        # drop what a request half read holds, and the parser: its callbacks refer to this connection
        self._parser = _CLOSED_PARSER
        self._large = None
        self._unparsed = b""
        self._url = []
        self._headers = []
        self._body = b""
        self._wake_writer()
        if self._streaming and self._task is not None:
            self._task.cancel()  # stop making a streamed answer nobody reads

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer()
        self._maybe_resume_reading()

    def get_buffer(self, sizehint: int) -> memoryview:
        large = self._large
        if large is not None:
            room = large.room()
            if room is not None:
                self._into_body = True
                return room
        self._into_body = False
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        if self._closing:
            return
        self._last_active = self._loop.time()
        large = self._large
        if large is None:
            self._feed(0, nbytes)
        elif self._into_body:
            large.filled += nbytes  # read straight into the body
            if large.filled == large.length:
                self._complete_large(large)
        else:
            self._fill_large(large, 0, nbytes)

    def _feed(self, start: int, end: int) -> None:
        """Parse bytes ``start:end`` of the read buffer, ``PARSE_SLICE`` bytes at a time (the head of a
        request whose method starts with P, up to its blank line, as a slice of its own; then a body
        of declared length as one slice).

        Between slices: once the connection must wait (too many answers owed, or the client not
        reading them) the rest is kept, and parsed when it may go on; once it is closing, dropped.
        So one read of many small pipelined requests makes at most a slice's worth of them at once.
        """
        while start < end:
            if self._reading:
                # inside a body of known length the bytes make no new request: parse that body at once
                body_left = self._declared - self._body_size if self._declared > 0 else 0
                stop = min(end, start + max(PARSE_SLICE, body_left))
            else:
                stop = min(end, start + PARSE_SLICE)
                if self._buffer[start] == _P:
                    # POST, PUT, PATCH: parse the head on its own, so that the body, whose length it
                    # declares, arrives in one piece in the next slice (no second piece to append)
                    head_end = self._buffer.find(b"\r\n\r\n", start, stop)
                    if head_end >= 0:
                        stop = head_end + 4
            if not self._parse(start, stop, end):
                return
            start = stop
            if self._closing:
                return
            if start < end and self._must_wait():
                self._unparsed = bytes(self._view[start:end])
                self._pause_reading()
                return

    def _parse(self, start: int, stop: int, end: int) -> bool:
        """Parse bytes ``start:stop`` of a read ending at ``end``; False: what follows is not the parser's."""
        self._fresh = None if self._reading else (start, stop)
        try:
            self._parser.feed_data(self._view[start:stop])
        except httptools.HttpParserUpgrade:
            # upgrades (WebSocket, h2c) and CONNECT are not spoken here: answer the request as plain HTTP,
            # then close
            self._close_after_pending()
        except httptools.HttpParserCallbackError:
            large = self._large
            if large is None:
                status, message = self._reject or (500, "internal server error")
                self._fail(status, message)
                return False
            # the parser stopped after a large body's head: the body's first bytes are in the buffer,
            # the rest is read into the body; a fresh parser reads what follows it
            self._parser = httptools.HttpRequestParser(self)
            self._fill_large(large, self._large_start, end)
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed HTTP request: {str(exc)[:100]}")
        else:
            return True
        return False

    def _fill_large(self, large: LargeRequest, start: int, end: int) -> None:
        """Bytes ``start:end`` of the read buffer go to ``large``'s body, any past its end to the parser."""
        start += large.take(self._view[start:end])
        if large.filled == large.length:
            self._complete_large(large)
            if start < end:
                self._feed(start, end)  # requests pipelined behind it

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._url = []
        self._headers = []
        self._body = b""
        self._head_size = 0
        self._body_size = 0
        self._chunks = 0
        self._declared = -1
        self._reading = True
        self._started = self._last_active

    def on_url(self, url: bytes) -> None:
        self._url.append(url)
        # the URL comes first: the head so far is the URL
        limit = self._limits.max_url_bytes
        if self._head_size + len(url) > limit:
            self._stop(414, f"the request-target (path and query) is over the limit of {limit} bytes")
        self._grow_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self._headers
        headers.append((name.lower(), value))
        self._grow_head(len(name) + len(value) + 4)
        if len(headers) > self._limits.max_headers:
            self._stop(431, f"the request has more than {self._limits.max_headers} header fields")

    def on_headers_complete(self) -> None:
        limit = self._limits.max_body_bytes
        expect_continue = False
        length = -1
        plain = True  # no transfer coding or upgrade: the body is exactly Content-Length bytes
        for name, value in self._headers:
            if name == b"content-length":
                digits = value.strip(b" \t")
                # the parser has checked the value (digits, no overflow); a malformed one is its to refuse
                if digits.isdigit() and len(digits) <= 19:
                    length = int(digits)
                    if length > limit:
                        self._stop(413, f"the request body is {length} bytes; the limit is {limit} bytes")
            elif name == b"expect" and value.lower() == b"100-continue":
                expect_continue = True
            elif name in (b"transfer-encoding", b"upgrade"):
                plain = False
        if plain:
            self._declared = length
        if expect_continue and self._transport is not None:
            self._transport.write(wire.CONTINUE)
        # CONNECT and upgrades end at their head for the parser: so they must here
        if length >= LARGE_BODY and plain and not self._parser.should_upgrade():
            self._read_large_body(length)

    def _read_large_body(self, length: int) -> None:
        """Stop the parser, so that the body is read into one buffer, where its start is known exactly.

        That is when this request's head began at the first byte being parsed (no request completed
        before it in these bytes, no blank line before it): its head then ends at their first CRLF
        CRLF. Otherwise (a head split over two reads, requests pipelined before it in one read) the
        parser reads the body as usual.
        """
        fresh = self._fresh
        buffer = self._buffer
        if fresh is None or buffer[fresh[0]] in b"\r\n":
            return
        head_end = end_of_head(buffer, *fresh)
        if head_end is None:
            return
        parser = self._parser
        self._large_start = head_end
        self._large = LargeRequest(
            length, parser.get_method(), parser.should_keep_alive(), parser.get_http_version() == "1.0"
        )
        raise _LargeBody

    def on_chunk_header(self) -> None:
        chunks = self._chunks + 1
        self._chunks = chunks
        limits = self._limits
        if chunks > limits.free_chunks and self._body_size < (chunks - 1) * limits.min_chunk_bytes:
            done = chunks - 1
            self._stop(
                400,
                f"the chunked body's first {done} chunks average {self._body_size // done} bytes; "
                f"past {limits.free_chunks} chunks they must average at least {limits.min_chunk_bytes} bytes",
            )

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._limits.max_body_bytes:
            self._stop(413, f"the request body is over the limit of {self._limits.max_body_bytes} bytes")
        so_far = self._body
        if isinstance(so_far, bytearray):
            so_far += body  # grows in place, amortised: no list of pieces, no join
        elif so_far:
            self._body = bytearray(so_far) + body
        else:
            self._body = body

    def on_message_complete(self) -> None:
        self._fresh = None  # a request that follows in these bytes does not start at their first
        parser = self._parser
        body = self._body
        self._body = b""  # the request holds it now, and lets go of it when answered
        self._complete(
            parser.get_method(), parser.should_keep_alive(), parser.get_http_version() == "1.0", body
        )

    def _complete_large(self, large: LargeRequest) -> None:
        self._large = None
        self._complete(large.method, large.keep_alive, large.http10, large.body)

    def _complete(self, raw_method: bytes, keep_alive: bool, http10: bool, body: Body) -> None:
        """A whole request has arrived: queue its answer's slot; run it now or after those before it."""
        self._reading = False
        if self._closing:
            return  # pipelined behind a request that closes the connection: never run
        method = raw_method.decode("ascii", "replace")
        url = self._url[0] if len(self._url) == 1 else b"".join(self._url)
        keep_alive = keep_alive and not self._closing and not self._draining
        slot = Slot(keep_alive, method != "HEAD", http10)
        self._pending.append(slot)
        request = Request(method, wire.path_of(url), self._headers, body)
        if self._task is None:
            self._start(request, slot)
        else:
            self._waiting.append((request, slot))
            self._waiting_bytes += len(body)
        if not keep_alive:
            self._closing = True
            self._pause_reading()
        elif self._must_wait():
            self._pause_reading()

    # answering

    def _start(self, request: Request, slot: Slot) -> None:
        self._task = self._loop.create_task(self._answer(request, slot))

    async def _answer(self, request: Request, slot: Slot) -> None:
        """Answer ``request``, then each request that waits behind it, in turn, in this one task."""
        try:
            while True:
                try:
                    status, body, headers = await self._handler(request)
                except Exception:
                    log.exception("unhandled error answering %s %s", request.method, request.shown_path)
                    body = wire.error_body("internal server error; see the server log")
                    status, headers = 500, ERROR_HEADERS
                if isinstance(body, Streamed):
                    await self._stream(status, headers, body, slot)
                    slot.data = b""  # written already
                else:
                    slot.data = wire.response(
                        status, headers, body, self._date.line(), slot.keep_alive, slot.with_body, slot.http10
                    )
                self._flush()  # may resume reading, and so queue more requests behind this one
                if not self._waiting:
                    return
                request, slot = self._waiting.popleft()
                self._waiting_bytes -= len(request.body)
        finally:
            self._task = None

    async def _stream(self, status: int, headers: Headers, body: Streamed, slot: Slot) -> None:
        """Write a streamed answer: the head, then each piece once the client has taken the last ones.

        Requests run one at a time, so the answers before this one are written already. An HTTP/1.0
        client gets the pieces as they are and the connection closes after them.
        """
        chunked = not slot.http10
        if not chunked:
            slot.keep_alive = False
        self._streaming = True
        try:
            if self._transport is None:
                return
            self._transport.write(wire.streamed_head(status, headers, self._date.line(), chunked))
            if not slot.with_body:
                return
            async for piece in body.chunks:
                if self._writing_paused:
                    await self._wait_drained()
                transport = self._transport
                if transport is None:
                    return
                if piece:
                    transport.write(wire.chunk(piece) if chunked else piece)
                    self._last_active = self._loop.time()
            if chunked and self._transport is not None:
                self._transport.write(wire.LAST_CHUNK)
        finally:
            self._streaming = False
            await body.close()

    async def _wait_drained(self) -> None:
        """Until the transport's buffer drains below its low-water mark, or the connection is lost."""
        while self._writing_paused and self._transport is not None:
            waiter = self._loop.create_future()
            self._drained = waiter
            await waiter

    def _wake_writer(self) -> None:
        waiter, self._drained = self._drained, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

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
        slot = Slot(False, True)
        slot.data = wire.response(status, ERROR_HEADERS, wire.error_body(message), self._date.line(), False)
        self._pending.append(slot)
        self._closing = True
        self._reading = False
        self._large = None
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

    def _must_wait(self) -> bool:
        """Read no more for now: too many answers owed, too much body waiting, or the client not reading."""
        return (
            self._writing_paused
            or len(self._pending) >= self._limits.max_pipelined
            or self._waiting_bytes > self._limits.max_waiting_body_bytes
        )

    def _maybe_resume_reading(self) -> None:
        if not self._reading_paused or self._closing or self._transport is None or self._must_wait():
            return
        unparsed = self._unparsed
        if unparsed:  # what the last read held past where parsing stopped comes first
            self._unparsed = b""
            size = len(unparsed)
            self._buffer[:size] = unparsed
            self._feed(0, size)
            if self._closing or self._transport is None or self._must_wait():
                return
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

    def abort(self) -> asyncio.Task[None] | None:
        """Close at once: cancel the answer being made (returned, to be awaited) and drop the rest."""
        self._waiting.clear()
        task = self._task
        if task is not None:
            task.cancel()
        if self._transport is not None:
            self._transport.abort()
        return task

    @property
    def busy(self) -> bool:
        return bool(self._pending)
