"""Flow control of what the client sends (RFC 9113 §5.2, §6.9): checking its windows, renewing them.

The connection's window is renewed as data arrives. A stream's window is
renewed only while its body is among the oldest ``Limits.flowing_bodies``
still arriving; a later stream gets its first window's worth and then waits
for one of those to arrive whole. Bodies are buffered whole before a handler
sees them, so this bounds what one connection can make the server hold
(``flowing_bodies`` times the body limit + one window per other stream) while the
oldest bodies always make progress.
"""

from __future__ import annotations

from collections.abc import Callable

from moorings.http2 import frames as f
from moorings.http2.frames import Http2Error
from moorings.http2.limits import Limits
from moorings.http2.stream import Stream


class ReceiveWindows:
    def __init__(self, limits: Limits, write: Callable[[bytes], None]) -> None:
        self._limits = limits
        self._write = write
        self._window = max(limits.connection_window, f.DEFAULT_WINDOW)  # it can only be raised
        self._unacked = 0
        self._receiving: dict[int, Stream] = {}  # bodies still arriving, oldest first

    def opening_update(self) -> bytes:
        """The WINDOW_UPDATE that raises the connection's window from the protocol's default (or nothing)."""
        extra = self._limits.connection_window - f.DEFAULT_WINDOW
        return f.window_update(0, extra) if extra > 0 else b""

    def connection_data(self, length: int) -> None:
        """Count a DATA frame against the connection's window, whatever stream it is on."""
        self._window -= length
        if self._window < 0:
            raise Http2Error(f.FLOW_CONTROL_ERROR, "the client overran the connection window")
        self._unacked += length
        if self._unacked >= self._limits.connection_window // 2:
            self._write(f.window_update(0, self._unacked))
            self._window += self._unacked
            self._unacked = 0

    def opened(self, stream: Stream) -> None:
        """A stream whose body is still to come."""
        self._receiving[stream.id] = stream

    def stream_data(self, stream: Stream, length: int, ended: bool) -> bool:
        """Count a DATA frame against its stream's window; False if the client overran it."""
        stream.recv_window -= length
        if stream.recv_window < 0:
            return False
        if not ended:
            stream.unacked += length
            if stream.unacked >= self._limits.stream_window // 2 and self._flowing(stream):
                self._credit(stream)
        return True

    def stopped(self, stream: Stream) -> None:
        """The stream's body is complete or no longer wanted: the next waiting one may flow."""
        if self._receiving.pop(stream.id, None) is None:
            return
        half = self._limits.stream_window // 2
        for position, waiting in enumerate(self._receiving.values()):
            if position >= self._limits.flowing_bodies:
                break
            if waiting.unacked >= half:
                self._credit(waiting)

    def close(self) -> None:
        """The connection is gone: drop the streams and the way back to it."""
        self._receiving.clear()
        self._write = _discard

    def _flowing(self, stream: Stream) -> bool:
        """Whether ``stream`` is among the oldest ``flowing_bodies`` bodies still arriving."""
        for position, stream_id in enumerate(self._receiving):
            if stream_id == stream.id:
                return True
            if position + 1 >= self._limits.flowing_bodies:
                return False
        return False

    def _credit(self, stream: Stream) -> None:
        self._write(f.window_update(stream.id, stream.unacked))
        stream.recv_window += stream.unacked
        stream.unacked = 0


def _discard(data: bytes) -> None:
    """What a closed connection's windows write: nothing."""
