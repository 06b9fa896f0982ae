"""HTTP/2 frame encoding and the payload checks that need no connection."""

from __future__ import annotations

import struct

import pytest

from moorings.http2 import frames as f
from moorings.http2.frames import Http2Error


def split(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(type, flags, stream id, payload) of each frame in ``data``."""
    out = []
    while data:
        length = int.from_bytes(data[:3], "big")
        kind, flags, stream_id = data[3], data[4], struct.unpack(">I", data[5:9])[0] & 0x7FFFFFFF
        out.append((kind, flags, stream_id, data[9 : 9 + length]))
        data = data[9 + length :]
    return out


def test_frame_header_layout() -> None:
    assert f.frame(f.PING, 1, 0, b"12345678") == b"\x00\x00\x08\x06\x01\x00\x00\x00\x00" + b"12345678"
    assert split(f.window_update(3, 70000)) == [(f.WINDOW_UPDATE, 0, 3, struct.pack(">I", 70000))]
    assert split(f.rst_stream(5, f.CANCEL)) == [(f.RST_STREAM, 0, 5, struct.pack(">I", f.CANCEL))]


def test_settings_round_trip_and_bad_length() -> None:
    ((kind, _, stream_id, payload),) = split(f.settings({0x3: 100, 0x4: 65535}))
    assert (kind, stream_id) == (f.SETTINGS, 0)
    assert f.parse_settings(payload) == [(0x3, 100), (0x4, 65535)]
    with pytest.raises(Http2Error) as error:
        f.parse_settings(b"\x00" * 7)
    assert error.value.code == f.FRAME_SIZE_ERROR


def test_goaway_carries_its_reason_cut_to_256_bytes() -> None:
    ((kind, _, _, payload),) = split(f.goaway(7, f.ENHANCE_YOUR_CALM, "x" * 1000))
    assert kind == f.GOAWAY and f.u31(payload) == 7 and f.u32(payload[4:]) == f.ENHANCE_YOUR_CALM
    assert payload[8:] == b"x" * 256


def test_u31_drops_the_reserved_bit() -> None:
    assert f.u31(b"\xff\xff\xff\xff") == 0x7FFFFFFF and f.u32(b"\xff\xff\xff\xff") == 0xFFFFFFFF


def test_a_large_header_block_is_split_into_continuations() -> None:
    block = bytes(range(256)) * 5  # 1,280 bytes, frames of at most 500
    frames = split(f.header_frames(9, block, end_stream=True, max_frame=500))
    assert [(k, fl) for k, fl, _, _ in frames] == [
        (f.HEADERS, f.END_STREAM),
        (f.CONTINUATION, 0),
        (f.CONTINUATION, f.END_HEADERS),
    ]
    assert b"".join(p for _, _, _, p in frames) == block and {s for _, _, s, _ in frames} == {9}
    ((kind, flags, _, payload),) = split(f.header_frames(1, b"abc", end_stream=False, max_frame=500))
    assert (kind, flags, payload) == (f.HEADERS, f.END_HEADERS, b"abc")


def test_padding_is_stripped_and_checked() -> None:
    assert f.strip_padding(0, b"body") == b"body"
    assert f.strip_padding(f.PADDED, b"\x02body\x00\x00") == b"body"
    with pytest.raises(Http2Error) as error:
        f.strip_padding(f.PADDED, b"\x09ab")
    assert error.value.code == f.PROTOCOL_ERROR
    with pytest.raises(Http2Error) as error:
        f.strip_padding(f.PADDED, b"")
    assert error.value.code == f.FRAME_SIZE_ERROR
