"""HEADERS and CONTINUATION frames gathered into whole blocks, bounded in bytes and frames."""

from __future__ import annotations

import pytest

from moorings.http2 import frames as f
from moorings.http2.frames import Http2Error
from moorings.http2.header_frames import HeaderFrames
from moorings.http2.limits import Limits


def test_a_block_over_continuations_comes_back_whole_with_the_headers_flags() -> None:
    frames = HeaderFrames(Limits())
    assert frames.headers(f.END_STREAM, 1, b"ab") is None and frames.continuing
    assert frames.continuation(0, 1, b"cd") is None
    assert frames.continuation(f.END_HEADERS, 1, b"ef") == (f.END_STREAM, b"abcdef")
    assert not frames.continuing
    assert frames.headers(f.END_HEADERS | f.PADDED, 3, b"\x01xy\x00") == b"xy"


def test_blocks_are_bounded_and_must_continue_on_their_stream() -> None:
    frames = HeaderFrames(Limits(max_header_frames=3, max_header_list_bytes=10))
    with pytest.raises(Http2Error) as error:
        frames.headers(f.END_HEADERS, 1, b"x" * 11)
    assert error.value.code == f.ENHANCE_YOUR_CALM
    frames.headers(0, 1, b"a")
    with pytest.raises(Http2Error) as error:
        frames.continuation(0, 3, b"b")
    assert error.value.code == f.PROTOCOL_ERROR
    frames.continuation(0, 1, b"")
    frames.continuation(0, 1, b"")
    with pytest.raises(Http2Error) as error:
        frames.continuation(0, 1, b"")  # the fourth frame of one block
    assert error.value.code == f.ENHANCE_YOUR_CALM


def test_peer_settings_keep_the_last_values_and_refuse_bad_ones() -> None:
    payload = f.settings({f.INITIAL_WINDOW_SIZE: 100, f.MAX_FRAME_SIZE: 32768})[9:]
    assert f.peer_settings(payload + f.settings({f.INITIAL_WINDOW_SIZE: 200})[9:]) == (200, 32768)
    assert f.peer_settings(b"") == (None, None)
    with pytest.raises(Http2Error) as error:
        f.peer_settings(f.settings({f.MAX_FRAME_SIZE: 100})[9:])
    assert error.value.code == f.PROTOCOL_ERROR
