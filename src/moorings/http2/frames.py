"""HTTP/2 frame layout (RFC 9113 §4, §6): types, flags, error codes, settings; the frames we write."""

from __future__ import annotations

import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types
DATA = 0x0
HEADERS = 0x1
PRIORITY = 0x2
RST_STREAM = 0x3
SETTINGS = 0x4
PUSH_PROMISE = 0x5
PING = 0x6
GOAWAY = 0x7
WINDOW_UPDATE = 0x8
CONTINUATION = 0x9

# flags
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

# error codes
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
SETTINGS_TIMEOUT = 0x4
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB

# settings
HEADER_TABLE_SIZE = 0x1
ENABLE_PUSH = 0x2
MAX_CONCURRENT_STREAMS = 0x3
INITIAL_WINDOW_SIZE = 0x4
MAX_FRAME_SIZE = 0x5
MAX_HEADER_LIST_SIZE = 0x6

DEFAULT_WINDOW = 65_535
DEFAULT_FRAME_SIZE = 16_384
MAX_WINDOW = (1 << 31) - 1
MAX_FRAME_SIZE_LIMIT = (1 << 24) - 1

#: 24-bit length and 8-bit type in one word, then flags and the stream id
HEAD = struct.Struct(">IBI")
HEAD_SIZE = HEAD.size  # 9
_SETTING = struct.Struct(">HI")
_U32 = struct.Struct(">I")


class Http2Error(Exception):
    """The peer broke the protocol: the connection ends with GOAWAY carrying ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return HEAD.pack(len(payload) << 8 | kind, flags, stream_id) + payload


def settings(values: dict[int, int]) -> bytes:
    return frame(SETTINGS, 0, 0, b"".join(_SETTING.pack(key, value) for key, value in values.items()))


def parse_settings(payload: bytes) -> list[tuple[int, int]]:
    if len(payload) % 6:
        raise Http2Error(FRAME_SIZE_ERROR, "SETTINGS payload is not a multiple of 6 bytes")
    return [_SETTING.unpack_from(payload, offset) for offset in range(0, len(payload), 6)]


def peer_settings(payload: bytes) -> tuple[int | None, int | None]:
    """(INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE) a SETTINGS payload sets, each the last given or None.

    Out-of-range values are the connection errors RFC 9113 §6.5.2 names; HEADER_TABLE_SIZE is
    ignored (the server's encoder never uses the dynamic table), the other settings are advisory.
    """
    window = max_frame = None
    for key, value in parse_settings(payload):
        if key == INITIAL_WINDOW_SIZE:
            if value > MAX_WINDOW:
                raise Http2Error(FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1")
            window = value  # only the last one counts: one pass over the streams per frame
        elif key == MAX_FRAME_SIZE:
            if not DEFAULT_FRAME_SIZE <= value <= MAX_FRAME_SIZE_LIMIT:
                raise Http2Error(PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE out of range")
            max_frame = value
        elif key == ENABLE_PUSH and value > 1:
            raise Http2Error(PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH must be 0 or 1")
    return window, max_frame


def window_update(stream_id: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream_id, _U32.pack(increment))


def rst_stream(stream_id: int, code: int) -> bytes:
    return frame(RST_STREAM, 0, stream_id, _U32.pack(code))


def goaway(last_stream_id: int, code: int, reason: str = "") -> bytes:
    return frame(GOAWAY, 0, 0, _U32.pack(last_stream_id) + _U32.pack(code) + reason.encode()[:256])


def u31(payload: bytes) -> int:
    """A 31-bit value at the start of a payload (the reserved top bit dropped)."""
    value: int = _U32.unpack_from(payload)[0] & 0x7FFFFFFF
    return value


def u32(payload: bytes) -> int:
    value: int = _U32.unpack_from(payload)[0]
    return value


def header_frames(stream_id: int, block: bytes, end_stream: bool, max_frame: int) -> bytes:
    """A header block as HEADERS (plus CONTINUATION frames when it exceeds the peer's frame size)."""
    flags = END_STREAM if end_stream else 0
    if len(block) <= max_frame:
        return frame(HEADERS, flags | END_HEADERS, stream_id, block)
    parts = [block[i : i + max_frame] for i in range(0, len(block), max_frame)]
    out = [frame(HEADERS, flags, stream_id, parts[0])]
    for index, part in enumerate(parts[1:], start=2):
        out.append(frame(CONTINUATION, END_HEADERS if index == len(parts) else 0, stream_id, part))
    return b"".join(out)


def strip_padding(flags: int, payload: bytes) -> bytes:
    """The payload of a DATA or HEADERS frame without its padding (RFC 9113 §6.1)."""
    if not flags & PADDED:
        return payload
    if not payload:
        raise Http2Error(FRAME_SIZE_ERROR, "padded frame has no pad length")
    pad = payload[0]
    if pad >= len(payload):
        raise Http2Error(PROTOCOL_ERROR, "padding is longer than the frame")
    return payload[1 : len(payload) - pad]
