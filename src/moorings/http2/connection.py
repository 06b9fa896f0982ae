"""One server-side HTTP/2 connection (RFC 9113) as an asyncio protocol.

Requests are buffered whole: ``handler(stream)`` is called once per stream,
when the client ended it (or as soon as its body passed the limit, with
``stream.oversized`` set), and answers with :meth:`Stream.respond` or
:meth:`Stream.respond_headers`, from any task on the loop. What the
connection does itself: the preface and SETTINGS exchange, HPACK decoding,
CONTINUATION, padding, both directions of flow control (a response waits for
the client's window; what the client sends: ``receive_windows.py``), PING
answers, stream resets both ways (a reset reaches the handler through
``stream.on_reset``), MAX_CONCURRENT_STREAMS, and GOAWAY
on shutdown (streams already started are finished). A peer that breaks the
protocol gets GOAWAY with the RFC's error code and the connection closes.

What a client may make it spend is bounded (``Limits``): header blocks
(``header_frames.py``, ``header_blocks.py``), frames that ask for no work, and
time (:meth:`tick`, called by the server's sweep). When the connection closes it
drops every stream, body and cache it held.

Writes made while one callback runs are joined into one ``transport.write``
at the end of the loop iteration: a batch of answers leaves in one syscall.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import cast

from moorings.http2 import frames as f
from moorings.http2.closed_streams import ClosedStreams, Closing
from moorings.http2.frames import Http2Error
from moorings.http2.header_blocks import HeaderDecoder
from moorings.http2.header_frames import HeaderFrames
from moorings.http2.limits import Limits
from moorings.http2.rate_limit import TokenBucket
from moorings.http2.receive_windows import ReceiveWindows
from moorings.http2.stream import Stream

log = logging.getLogger(__name__)

Handler = Callable[[Stream], None]

#: after the last frame, how long to keep reading for the client's own close (see _linger_close)
LINGER_SECONDS = 2.0


class Http2Connection(asyncio.Protocol):
    def __init__(
        self,
        handler: Handler,
        limits: Limits,
        registry: set[Http2Connection],
        loop: asyncio.AbstractEventLoop,
        on_open: Handler | None = None,
    ) -> None:
        self.limits = limits
        #: called when a stream opens with a body still to come; it may answer at once (e.g. refuse
        #: a method it will not serve) instead of waiting for the whole request
        self._on_open = on_open
        self.closed = False
        self.peer_max_frame = f.DEFAULT_FRAME_SIZE
        self._handler = handler
        self._registry = registry
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._preface = False
        self._preface_timer: asyncio.TimerHandle | None = None
        self._decoder = HeaderDecoder(limits.max_header_list_bytes, limits.max_header_fields)
        self._streams: dict[int, Stream] = {}
        self._last_stream = 0
        self._peer_window = f.DEFAULT_WINDOW  # the peer's SETTINGS_INITIAL_WINDOW_SIZE
        self._send_window = f.DEFAULT_WINDOW
        self._inbound = ReceiveWindows(limits, self.write)
        self._blocked: deque[Stream] = deque()
        self._header_frames = HeaderFrames(limits)
        self._closed_streams = ClosedStreams(2 * limits.max_concurrent_streams)
        self._idle_since = loop.time()  # when the last open stream closed
        self._settings_unacked: float | None = loop.time()  # when our SETTINGS went out; None once acked
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._going_away = False
        self._resets = TokenBucket(limits.resets_per_second, limits.reset_burst, loop.time())
        self._idle_frames = TokenBucket(limits.idle_frames_per_second, limits.idle_frame_burst, loop.time())

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses
        self._registry.add(self)
        limits = self.limits
        self.write(
            f.settings(
                {
                    f.MAX_CONCURRENT_STREAMS: limits.max_concurrent_streams,
                    f.INITIAL_WINDOW_SIZE: limits.stream_window,
                    f.MAX_HEADER_LIST_SIZE: limits.max_header_list_bytes,
                    f.ENABLE_PUSH: 0,
                }
            )
        )
        self.write(self._inbound.opening_update())
        self._preface_timer = self._loop.call_later(limits.preface_seconds, self._no_preface)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._registry.discard(self)
        if self._preface_timer is not None:
            self._preface_timer.cancel()
            self._preface_timer = None
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            if stream.on_reset is not None and not stream.answered:
                stream.on_reset()
            stream.release()
        # what the connection held goes now, not at the next full garbage collection
        self._blocked.clear()
        self._inbound.close()
        self._decoder.clear()
        self._closed_streams.clear()
        self._header_frames.clear()
        self._buffer = bytearray()
        self._out.clear()
        self._transport = None

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()  # a client that does not read gets no more answers queued

    def resume_writing(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        buffer = self._buffer
        buffer += data
        try:
            if not self._preface:
                if len(buffer) < len(f.PREFACE):
                    if not f.PREFACE.startswith(bytes(buffer)):
                        raise Http2Error(f.PROTOCOL_ERROR, "not an HTTP/2 connection preface")
                    return
                if buffer[: len(f.PREFACE)] != f.PREFACE:
                    raise Http2Error(f.PROTOCOL_ERROR, "not an HTTP/2 connection preface")
                del buffer[: len(f.PREFACE)]
                self._preface = True
                if self._preface_timer is not None:
                    self._preface_timer.cancel()
            self._frames(buffer)
        except Http2Error as exc:
            self._fail(exc.code, exc.reason)

    # -- frames in

    def _frames(self, buffer: bytearray) -> None:
        position, size = 0, len(buffer)
        max_frame = f.DEFAULT_FRAME_SIZE  # we never raise SETTINGS_MAX_FRAME_SIZE
        unpack = f.HEAD.unpack_from
        try:
            while size - position >= f.HEAD_SIZE:
                length_type, flags, stream_id = unpack(buffer, position)
                length = length_type >> 8
                if length > max_frame:
                    raise Http2Error(f.FRAME_SIZE_ERROR, f"frame of {length} bytes exceeds {max_frame}")
                end = position + f.HEAD_SIZE + length
                if end > size:
                    break
                payload = bytes(buffer[position + f.HEAD_SIZE : end])
                position = end
                self._frame(length_type & 0xFF, flags, stream_id & 0x7FFFFFFF, payload)
                if self.closed:
                    return
        finally:
            del buffer[:position]

    def _frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self._header_frames.continuing and kind != f.CONTINUATION:
            raise Http2Error(f.PROTOCOL_ERROR, "a header block was interrupted by another frame")
        if kind == f.DATA:
            self._data(flags, stream_id, payload)
        elif kind == f.HEADERS:
            block = self._header_frames.headers(flags, stream_id, payload)
            if block is not None:
                self._header_block(flags, stream_id, block)
        elif kind == f.CONTINUATION:
            whole = self._header_frames.continuation(flags, stream_id, payload)
            if whole is not None:
                self._header_block(whole[0], stream_id, whole[1])
        elif kind == f.WINDOW_UPDATE:
            self._window_update(stream_id, payload)
        elif kind == f.PING:
            if stream_id or len(payload) != 8:
                raise Http2Error(f.PROTOCOL_ERROR if stream_id else f.FRAME_SIZE_ERROR, "malformed PING")
            self._no_work()
            if not flags & f.ACK:
                self.write(f.frame(f.PING, f.ACK, 0, payload))
        elif kind == f.SETTINGS:
            self._no_work()
            self._settings(flags, stream_id, payload)
        elif kind == f.RST_STREAM:
            if not stream_id or len(payload) != 4:
                raise Http2Error(f.PROTOCOL_ERROR, "malformed RST_STREAM")
            if stream_id > self._last_stream:
                raise Http2Error(f.PROTOCOL_ERROR, "RST_STREAM on an idle stream")
            if stream_id not in self._streams:
                self._no_work()
                return
            if not self._resets.take(self._loop.time()):
                raise Http2Error(f.ENHANCE_YOUR_CALM, "too many streams reset by the client")  # "rapid reset"
            self._drop(stream_id, Closing.RESET_BY_CLIENT)
        elif kind == f.PRIORITY:
            if not stream_id or len(payload) != 5:
                raise Http2Error(f.PROTOCOL_ERROR, "malformed PRIORITY")
            self._no_work()
        elif kind == f.GOAWAY:
            self._no_work()
            self._going_away = True
            self._close_when_idle()
        elif kind == f.PUSH_PROMISE:
            raise Http2Error(f.PROTOCOL_ERROR, "clients must not send PUSH_PROMISE")
        else:
            self._no_work()  # unknown frame types are ignored (RFC 9113 §4.1), but not without end

    def _no_work(self) -> None:
        """Count a frame that asks for no work; too many of them end the connection (a flood)."""
        if not self._idle_frames.take(self._loop.time()):
            raise Http2Error(f.ENHANCE_YOUR_CALM, "too many frames that carry no request")

    def _data(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise Http2Error(f.PROTOCOL_ERROR, "DATA on stream 0")
        if stream_id > self._last_stream:
            raise Http2Error(f.PROTOCOL_ERROR, "DATA on an idle stream")
        self._inbound.connection_data(len(payload))
        stream = self._streams.get(stream_id)
        if stream is None:
            self._on_closed_stream(stream_id, "DATA")
            return
        if stream.ended:
            self._stream_error(stream, f.STREAM_CLOSED)
            return
        ended = bool(flags & f.END_STREAM)
        if not self._inbound.stream_data(stream, len(payload), ended):
            self._stream_error(stream, f.FLOW_CONTROL_ERROR)
            return
        body = f.strip_padding(flags, payload)
        if body or ended:
            self._idle_frames.give()
        else:
            self._no_work()
        if not stream.oversized:
            if len(stream.body) + len(body) > self.limits.max_body_bytes:
                stream.oversized = True
                stream.body.clear()
            else:
                stream.body += body
        stream.ended = ended
        if stream.ended or stream.oversized:
            self._inbound.stopped(stream)
            if not stream.dispatched:
                self._dispatch(stream)

    def _header_block(self, flags: int, stream_id: int, block: bytes) -> None:
        headers = self._decoder.decode(block)  # always: the HPACK state must follow every block
        stream = self._streams.get(stream_id)
        if stream_id <= self._last_stream:
            if stream is None:
                self._on_closed_stream(stream_id, "HEADERS")
            elif stream.ended:
                self._stream_error(stream, f.STREAM_CLOSED)  # half-closed (remote): RFC 9113 §5.1
            elif not flags & f.END_STREAM:
                raise Http2Error(f.PROTOCOL_ERROR, "a second header block that does not end the stream")
            else:  # request trailers: the body is complete
                stream.ended = True
                self._inbound.stopped(stream)
                if not stream.dispatched:
                    self._dispatch(stream)
            return
        if not stream_id & 1:
            raise Http2Error(f.PROTOCOL_ERROR, "client streams must have odd ids")
        self._last_stream = stream_id
        if self._going_away or len(self._streams) >= self.limits.max_concurrent_streams:
            self.write(f.rst_stream(stream_id, f.REFUSED_STREAM))
            self._closed_streams.add(stream_id, Closing.RESET_HERE)
            self._no_work()
            return
        self._idle_frames.give()
        stream = self._streams[stream_id] = Stream(
            self, stream_id, headers, self._peer_window, self.limits.stream_window, self._loop.time()
        )
        if flags & f.END_STREAM:
            stream.ended = True
            self._dispatch(stream)
        else:
            self._inbound.opened(stream)
            if self._on_open is not None:
                self._on_open(stream)

    def _settings(self, flags: int, stream_id: int, payload: bytes) -> None:
        if stream_id:
            raise Http2Error(f.PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & f.ACK:
            if payload:
                raise Http2Error(f.FRAME_SIZE_ERROR, "SETTINGS ack with a payload")
            self._settings_unacked = None
            return
        window, max_frame = f.peer_settings(payload)
        if max_frame is not None:
            self.peer_max_frame = max_frame
        if window is not None:
            delta, self._peer_window = window - self._peer_window, window
            for stream in self._streams.values():
                stream.send_window += delta
                if stream.send_window > f.MAX_WINDOW:
                    raise Http2Error(f.FLOW_CONTROL_ERROR, "a stream's window above 2^31-1")
        self.write(f.frame(f.SETTINGS, f.ACK, 0))
        self._unblock()

    def _window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise Http2Error(f.FRAME_SIZE_ERROR, "WINDOW_UPDATE payload is not 4 bytes")
        increment = f.u31(payload)
        if not stream_id:
            if not increment:
                raise Http2Error(f.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            self._send_window += increment
            if self._send_window > f.MAX_WINDOW:
                raise Http2Error(f.FLOW_CONTROL_ERROR, "connection window above 2^31-1")
            self._unblock()
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id > self._last_stream:
                raise Http2Error(f.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream")
            self._no_work()  # a closed stream (allowed for a while, RFC 9113 §5.1)
            return
        if not increment:
            self._stream_error(stream, f.PROTOCOL_ERROR)
            return
        stream.send_window += increment
        if stream.send_window > f.MAX_WINDOW:
            self._stream_error(stream, f.FLOW_CONTROL_ERROR)
            return
        self._unblock()

    # -- streams

    def _dispatch(self, stream: Stream) -> None:
        stream.dispatched = True
        try:
            self._handler(stream)
        except Exception:
            log.exception("HTTP/2 handler failed")
            self._stream_error(stream, f.INTERNAL_ERROR)

    def _on_closed_stream(self, stream_id: int, kind: str) -> None:
        """A DATA or HEADERS frame on a stream id at or below the last opened one that is not open."""
        how = self._closed_streams.get(stream_id)
        if how is Closing.ENDED:
            raise Http2Error(f.STREAM_CLOSED, f"{kind} on stream {stream_id}, which both sides ended")
        if how is None and kind == "HEADERS":
            raise Http2Error(
                f.PROTOCOL_ERROR, f"HEADERS on stream {stream_id}, not above the last stream opened"
            )
        self._no_work()
        if how is Closing.RESET_BY_CLIENT:
            self.write(f.rst_stream(stream_id, f.STREAM_CLOSED))
        # else reset here (the client may not have seen it yet) or long forgotten: ignored

    def _drop(self, stream_id: int, how: Closing) -> None:
        """Forget a stream reset by either side; its handler hears of it through ``on_reset``."""
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return
        self._closed_streams.add(stream_id, how)
        self._inbound.stopped(stream)
        stream.answered = True
        if stream in self._blocked:
            self._blocked.remove(stream)
        if stream.on_reset is not None:
            stream.on_reset()
        stream.release()
        self._now_idle()

    def _stream_error(self, stream: Stream, code: int) -> None:
        self.write(f.rst_stream(stream.id, code))
        self._drop(stream.id, Closing.RESET_HERE)

    def send_data(self, stream: Stream) -> None:
        """Send what the windows allow of a stream's answer; the trailers once all data is out."""
        out = stream._out
        while out:
            count = min(len(out), self._send_window, stream.send_window, self.peer_max_frame)
            if count <= 0:
                if stream not in self._blocked:
                    self._blocked.append(stream)
                if stream.blocked_since is None:
                    stream.blocked_since = self._loop.time()
                stream._out = out
                return
            stream.blocked_since = None
            self.write(f.frame(f.DATA, 0, stream.id, bytes(out[:count])))
            self._send_window -= count
            stream.send_window -= count
            out = out[count:]
        stream._out = out
        self.write(f.header_frames(stream.id, stream._trailers, True, self.peer_max_frame))
        self.finished(stream)

    def _unblock(self) -> None:
        for _ in range(len(self._blocked)):
            if self._send_window <= 0:
                return
            stream = self._blocked.popleft()
            if self._streams.get(stream.id) is stream:
                self.send_data(stream)

    def finished(self, stream: Stream) -> None:
        """The answer ended the stream: forget it, telling a client still sending to stop."""
        if stream.ended:
            how = Closing.ENDED
        else:
            self.write(f.rst_stream(stream.id, f.NO_ERROR))
            how = Closing.RESET_HERE
        if self._streams.get(stream.id) is stream:
            del self._streams[stream.id]
            self._closed_streams.add(stream.id, how)
        self._inbound.stopped(stream)
        stream.release()
        self._now_idle()

    def _now_idle(self) -> None:
        if not self._streams:
            self._idle_since = self._loop.time()
            self._close_when_idle()

    # -- connection

    def write(self, data: bytes) -> None:
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        if self._transport is not None and not self.closed:
            self._transport.write(b"".join(out))

    def go_away(self) -> None:
        """Refuse new streams, finish the open ones, then close (graceful shutdown)."""
        if self._going_away or self.closed:
            return
        self._going_away = True
        self.write(f.goaway(self._last_stream, f.NO_ERROR))
        self._close_when_idle()

    def abort(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.abort()

    def _close_when_idle(self) -> None:
        if self._going_away and not self._streams and not self.closed:
            self._linger_close()

    def _fail(self, code: int, reason: str) -> None:
        log.debug("HTTP/2 connection error %d: %s", code, reason)
        self.write(f.goaway(self._last_stream, code, reason))
        self._linger_close()

    def _linger_close(self) -> None:
        """Send what is queued and our FIN, then read (and drop) until the client closes too.

        Closing a socket that still has unread input sends a reset, and a reset can make the
        client's kernel drop our last answer (or GOAWAY) before the client read it.
        """
        transport = self._transport
        self._flush()
        self.closed = True
        if transport is None or transport.is_closing():
            return
        try:
            transport.write_eof()
        except (OSError, NotImplementedError):  # the peer is gone already, or no half-close here
            transport.close()
        else:
            self._loop.call_later(LINGER_SECONDS, transport.close)

    def _no_preface(self) -> None:
        if not self._preface and self._transport is not None:
            self._transport.close()

    def tick(self, now: float) -> None:
        """Apply the time limits (the server calls this every fraction of a second).

        A connection with no open stream for ``idle_seconds`` gets GOAWAY and closes; a request
        body still arriving ``request_seconds`` after its HEADERS, and an answer held back by the
        client's windows for ``send_stall_seconds``, are reset with CANCEL.
        """
        if self.closed or not self._preface:
            return  # before the preface, the preface timer applies
        limits = self.limits
        if self._settings_unacked is not None and now - self._settings_unacked >= limits.settings_ack_seconds:
            self._fail(f.SETTINGS_TIMEOUT, "the client did not acknowledge the server's SETTINGS")
            return
        if not self._streams:
            if now - self._idle_since >= limits.idle_seconds:
                log.debug("HTTP/2 connection idle for %.0f s: closing", now - self._idle_since)
                self._going_away = True
                self.write(f.goaway(self._last_stream, f.NO_ERROR, "idle"))
                self._linger_close()
            return
        for stream in list(self._streams.values()):
            if not stream.dispatched and now - stream.opened_at >= limits.request_seconds:
                self._stream_error(stream, f.CANCEL)  # the body did not arrive in time
            elif stream.blocked_since is not None and now - stream.blocked_since >= limits.send_stall_seconds:
                self._stream_error(stream, f.CANCEL)  # the client does not take its answer

    @property
    def idle(self) -> bool:
        return not self._streams
