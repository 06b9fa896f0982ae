"""Frame floods against the own HTTP/2 server end with GOAWAY ENHANCE_YOUR_CALM within bounded frames.

The bytes are the probe's (issue 20 #3): a HEADERS without END_HEADERS followed by empty
CONTINUATION frames (CVE-2024-27316 class), PRIORITY frames, frames of an unknown type, and
the other frames that ask for no work.
"""

from __future__ import annotations

import pytest

from moorings.http2 import frames as f
from tests.hostile.http2_client import (
    EMPTY_CONTINUATION,
    PRIORITY_FRAME,
    connect,
    echo_server,
    goaway_and_close,
    send_quietly,
)

FLOOD = 20_000  # frames sent; the server must stop reading long before


def test_empty_continuation_flood_is_closed() -> None:
    with echo_server() as server:
        client = connect(server)
        client.send(f.HEADERS, 0, 1, client.headers_block())  # no END_HEADERS
        send_quietly(client, EMPTY_CONTINUATION * FLOOD)
        assert goaway_and_close(client) == f.ENHANCE_YOUR_CALM
        client.close()


def test_header_block_fragments_are_bounded_in_count_and_bytes() -> None:
    with echo_server(max_header_frames=4, max_header_list_bytes=1000) as server:
        client = connect(server)
        block = client.headers_block()
        client.send(f.HEADERS, 0, 1, block[:2])
        for part in (block[2:3], block[3:4]):
            client.send(f.CONTINUATION, 0, 1, part)
        client.send(f.CONTINUATION, f.END_HEADERS, 1, block[4:])  # the 4th frame: still served
        client.send(f.DATA, f.END_STREAM, 1, b"ok")
        assert client.response(1)[1] == b"ko"
        client.send(f.HEADERS, 0, 3, client.headers_block())
        for _ in range(4):
            send_quietly(client, f.frame(f.CONTINUATION, 0, 3, b""))
        assert goaway_and_close(client) == f.ENHANCE_YOUR_CALM
        client.close()
        client = connect(server)
        client.send(f.HEADERS, 0, 1, b"\x00\x01a\x7f\x81\x07" + b"x" * 600)  # a literal being sent
        send_quietly(client, f.frame(f.CONTINUATION, 0, 1, b"x" * 600))  # ... past 1000 bytes
        assert goaway_and_close(client) == f.ENHANCE_YOUR_CALM
        client.close()


@pytest.mark.parametrize(
    "frame",
    [
        PRIORITY_FRAME,
        f.frame(0x42, 0, 1, b"an extension frame"),  # unknown type
        f.frame(0x42, 0, 0, b""),
        f.frame(f.PING, 0, 0, b"12345678"),
        f.frame(f.SETTINGS, 0, 0, b""),
        f.frame(f.WINDOW_UPDATE, 0, 1, b"\x00\x00\x00\x01"),  # on a closed stream
        f.frame(f.RST_STREAM, 0, 1, b"\x00\x00\x00\x08"),  # on a closed stream
    ],
    ids=["priority", "unknown-type", "unknown-type-empty", "ping", "settings", "window-update", "rst-stream"],
)
def test_floods_of_frames_that_ask_for_no_work_are_closed(frame: bytes) -> None:
    with echo_server(idle_frame_burst=500, idle_frames_per_second=100.0) as server:
        client = connect(server)
        client.request(1, b"x")  # stream 1 exists and is closed: frames on it are legal but idle
        assert client.response(1)[1] == b"x"
        send_quietly(client, frame * FLOOD)
        assert goaway_and_close(client) == f.ENHANCE_YOUR_CALM
        client.close()


def test_empty_data_frames_on_an_open_stream_are_a_flood() -> None:
    with echo_server(idle_frame_burst=500, idle_frames_per_second=100.0) as server:
        client = connect(server)
        client.send(f.HEADERS, f.END_HEADERS, 1, client.headers_block())
        send_quietly(client, f.frame(f.DATA, 0, 1, b"") * FLOOD)
        assert goaway_and_close(client) == f.ENHANCE_YOUR_CALM
        client.close()


def test_frames_that_do_work_refill_the_budget() -> None:
    """PINGs and PRIORITY frames between real requests, beyond the burst in total, are served."""
    with echo_server(idle_frame_burst=20, idle_frames_per_second=0.001) as server:
        client = connect(server)
        for stream_id in range(1, 120, 2):
            client.send(f.PING, 0, 0, b"12345678")
            client.request(stream_id, b"a")
            assert client.response(stream_id)[1] == b"a"
        client.close()
