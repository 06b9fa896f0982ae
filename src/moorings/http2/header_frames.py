"""HEADERS and CONTINUATION frames gathered into whole header blocks (RFC 9113 §6.2, §6.10).

Sans-IO: the connection hands each frame's flags, stream id and payload over and gets back the
whole block (with the HEADERS frame's flags) once END_HEADERS arrives. Padding and priority
fields are stripped; a block larger than ``Limits.max_header_list_bytes`` or spread over more
than ``Limits.max_header_frames`` frames is refused (ENHANCE_YOUR_CALM) before it grows further.
"""

from __future__ import annotations

from moorings.http2 import frames as f
from moorings.http2.frames import Http2Error
from moorings.http2.limits import Limits


class HeaderFrames:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._stream_id = 0
        self._flags = 0
        self._block: bytearray | None = None  # the block so far, while it is being continued
        self._frames = 0

    @property
    def continuing(self) -> bool:
        """A block is waiting for CONTINUATION frames: no other frame may come between."""
        return self._block is not None

    def headers(self, flags: int, stream_id: int, payload: bytes) -> bytes | None:
        """The block of a HEADERS frame when it ends it (END_HEADERS), else None (continuations follow)."""
        if not stream_id:
            raise Http2Error(f.PROTOCOL_ERROR, "HEADERS on stream 0")
        block = f.strip_padding(flags, payload)
        if flags & f.PRIORITY_FLAG:
            if len(block) < 5:
                raise Http2Error(f.FRAME_SIZE_ERROR, "HEADERS too short for its priority fields")
            block = block[5:]
        self._check_size(len(block))
        if flags & f.END_HEADERS:
            return block
        self._stream_id, self._flags, self._block, self._frames = stream_id, flags, bytearray(block), 1
        return None

    def continuation(self, flags: int, stream_id: int, payload: bytes) -> tuple[int, bytes] | None:
        """(the HEADERS frame's flags, the whole block) once END_HEADERS arrives, else None."""
        block = self._block
        if block is None or self._stream_id != stream_id:
            raise Http2Error(f.PROTOCOL_ERROR, "CONTINUATION without a header block to continue")
        self._frames += 1
        if self._frames > self._limits.max_header_frames:
            raise Http2Error(
                f.ENHANCE_YOUR_CALM,
                f"header block spread over more than {self._limits.max_header_frames} frames",
            )
        block += payload
        self._check_size(len(block))
        if not flags & f.END_HEADERS:
            return None
        self._block = None
        return self._flags, bytes(block)

    def clear(self) -> None:
        self._block = None

    def _check_size(self, size: int) -> None:
        if size > self._limits.max_header_list_bytes:
            raise Http2Error(f.ENHANCE_YOUR_CALM, "header block too large")
