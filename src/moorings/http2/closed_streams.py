"""How the most recent streams of a connection closed, so late frames on them get the RFC's answer.

RFC 9113 §5.1: frames on a stream this side reset may still be in flight and are ignored; a
frame after the client's own RST_STREAM is a stream error; a frame after the client ended a
stream that is also answered is a connection error (STREAM_CLOSED); a HEADERS on a stream id
not above the last one opened that was never a stream is a connection error (PROTOCOL_ERROR).
Only the latest ``size`` closings are kept: memory stays bounded whatever the client does.
"""

from __future__ import annotations

import enum


class Closing(enum.Enum):
    RESET_HERE = "reset by the server"
    RESET_BY_CLIENT = "reset by the client"
    ENDED = "ended both ways"


class ClosedStreams:
    def __init__(self, size: int) -> None:
        self._size = max(size, 1)
        self._closed: dict[int, Closing] = {}

    def add(self, stream_id: int, how: Closing) -> None:
        closed = self._closed
        closed.pop(stream_id, None)
        closed[stream_id] = how
        if len(closed) > self._size:
            del closed[next(iter(closed))]

    def get(self, stream_id: int) -> Closing | None:
        return self._closed.get(stream_id)

    def clear(self) -> None:
        self._closed.clear()
