"""Connections and streams of the own HTTP/2 server are held only for a bounded time (issue 20 #5).

The same bytes as the probe, with short limits: preface + SETTINGS then silence; HEADERS and
DATA without END_STREAM; answers to a client that set SETTINGS_INITIAL_WINDOW_SIZE to 0.
"""

from __future__ import annotations

import struct
import time

from moorings.http2 import frames as f
from tests.hostile.http2_client import connect, echo_server, goaway_and_close
from tests.http2.raw_client import RawClient


def test_an_idle_connection_gets_goaway_and_is_closed() -> None:
    with echo_server(idle_seconds=0.3) as server:
        client = connect(server)
        started = time.monotonic()
        assert goaway_and_close(client) == f.NO_ERROR
        assert 0.25 < time.monotonic() - started < 3
        client.close()


def test_a_connection_with_a_stream_in_progress_is_not_idle() -> None:
    with echo_server(idle_seconds=0.3) as server:
        client = connect(server)
        client.send(f.HEADERS, f.END_HEADERS, 1, client.headers_block())
        time.sleep(0.6)
        client.send(f.DATA, f.END_STREAM, 1, b"late but fine")
        assert client.response(1)[1] == b"enif tub etal"
        assert goaway_and_close(client) == f.NO_ERROR  # idle again afterwards
        client.close()


def test_a_body_that_does_not_arrive_in_time_is_reset() -> None:
    with echo_server(request_seconds=0.3) as server:
        client = connect(server)
        client.send(f.HEADERS, f.END_HEADERS, 1, client.headers_block())
        client.send(f.DATA, 0, 1, b"x" * 16_000)  # no END_STREAM, then silence
        rst = client.read_until(f.RST_STREAM, 1, timeout=3)[-1]
        assert f.u32(rst[3]) == f.CANCEL
        client.send(f.DATA, f.END_STREAM, 1, b"too late")  # ignored: the server reset it
        client.request(3, b"next")
        assert client.response(3)[1] == b"txen"
        client.close()


def test_an_answer_held_back_by_a_zero_window_is_reset() -> None:
    with echo_server(send_stall_seconds=0.3) as server:
        client = connect(server, {f.INITIAL_WINDOW_SIZE: 0})
        client.read_until(f.SETTINGS)  # the ack of ours
        for stream_id in (1, 3, 5):
            client.request(stream_id, b"blocked")
        codes = {}
        deadline = time.monotonic() + 3
        while len(codes) < 3 and time.monotonic() < deadline:
            kind, _, stream_id, payload = client.read(timeout=3)
            if kind == f.RST_STREAM:
                codes[stream_id] = f.u32(payload)
        assert codes == {1: f.CANCEL, 3: f.CANCEL, 5: f.CANCEL}
        client.close()


def test_a_slowly_read_answer_is_not_reset_while_it_makes_progress() -> None:
    with echo_server(send_stall_seconds=1.0) as server:
        client = connect(server, {f.INITIAL_WINDOW_SIZE: 4})
        client.read_until(f.SETTINGS)
        client.request(1, b"abcdefghijkl")
        received = b""
        while len(received) < 12:
            kind, _, _, payload = client.read(timeout=3)
            assert kind != f.RST_STREAM
            if kind == f.DATA:
                received += payload
                time.sleep(0.4)  # each window lasts less than the limit, all of them more
                client.send(f.WINDOW_UPDATE, 0, 1, struct.pack(">I", len(payload)))
        assert received == b"lkjihgfedcba"
        client.close()


def test_settings_never_acknowledged_end_the_connection() -> None:
    with echo_server(settings_ack_seconds=0.3) as server:
        client = RawClient(server.port)
        client.sock.sendall(f.PREFACE + f.settings({}))  # and never the ack of the server's SETTINGS
        assert goaway_and_close(client) == f.SETTINGS_TIMEOUT
        client.close()
