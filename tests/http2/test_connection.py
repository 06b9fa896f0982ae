"""The HTTP/2 connection, frame by frame: settings, requests, flow control, resets, limits, shutdown."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

import pytest

from moorings.http2 import frames as f
from tests.http2.conftest import EchoServer
from tests.http2.raw_client import RawClient

Start = Callable[..., EchoServer]


def _client(server: EchoServer, settings: dict[int, int] | None = None) -> RawClient:
    client = RawClient(server.port)
    client.handshake(settings)
    return client


def _wait(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_settings_ping_and_a_request(echo_server: Start) -> None:
    server = echo_server(max_concurrent_streams=7, stream_window=1 << 20)
    client = _client(server)
    assert client.server_settings[f.MAX_CONCURRENT_STREAMS] == 7
    assert client.server_settings[f.INITIAL_WINDOW_SIZE] == 1 << 20
    assert client.server_settings[f.ENABLE_PUSH] == 0
    client.send(f.PING, 0, 0, b"12345678")
    frames = client.read_until(f.PING)
    assert frames[-1][1] & f.ACK and frames[-1][3] == b"12345678"
    client.request(1, b"hello")
    headers, body, trailers = client.response(1)
    assert (":status", "200") in headers and ("x-length", "5") in headers
    assert body == b"olleh" and trailers == [("x-done", "1")]
    client.request(3)  # HEADERS with END_STREAM, no body
    assert client.response(3)[1] == b""
    client.close()


def test_continuation_padding_priority_and_unknown_frames(echo_server: Start) -> None:
    client = _client(echo_server())
    block = client.headers_block()
    padded_headers = bytes([3]) + b"\x00\x00\x00\x00\x10" + block[:4] + b"pad"  # PADDED + PRIORITY
    client.send(f.HEADERS, f.PADDED | f.PRIORITY_FLAG, 1, padded_headers)
    client.send(f.CONTINUATION, 0, 1, block[4:6])
    client.send(f.CONTINUATION, f.END_HEADERS, 1, block[6:])
    client.send(0x42, 0, 1, b"an extension frame")  # unknown types are ignored
    client.send(f.PRIORITY, 0, 1, b"\x00\x00\x00\x00\x10")
    client.send(f.DATA, f.PADDED, 1, bytes([2]) + b"abc" + b"\x00\x00")
    client.send(f.DATA, f.END_STREAM, 1, b"def")
    assert client.response(1)[1] == b"fedcba"
    client.close()


def test_answers_wait_for_the_clients_window(echo_server: Start) -> None:
    client = _client(echo_server(), {f.INITIAL_WINDOW_SIZE: 10})
    client.read_until(f.SETTINGS)  # the server's ack of ours
    client.request(1, bytes(range(25)))
    frames = client.read_until(f.DATA, 1)
    assert frames[-1][3] == bytes(range(25))[::-1][:10]
    with pytest.raises(TimeoutError):
        client.read(timeout=0.3)  # the stream's window is spent
    client.send(f.WINDOW_UPDATE, 0, 1, (10).to_bytes(4, "big"))
    assert client.read_until(f.DATA, 1)[-1][3] == bytes(range(25))[::-1][10:20]
    client.send(
        f.SETTINGS, 0, 0, f.settings({f.INITIAL_WINDOW_SIZE: 15})[f.HEAD_SIZE :]
    )  # +5 to open streams
    assert client.read_until(f.DATA, 1)[-1][3] == bytes(range(25))[::-1][20:]
    last = client.read_until(f.HEADERS, 1)[-1]
    assert last[1] & f.END_STREAM
    client.close()


def test_large_bodies_flow_in_with_window_updates(echo_server: Start) -> None:
    server = echo_server(stream_window=4096, connection_window=65_535, max_body_bytes=1 << 20)
    client = _client(server, {f.INITIAL_WINDOW_SIZE: 1 << 20})
    client.send(f.WINDOW_UPDATE, 0, 0, (1 << 20).to_bytes(4, "big"))  # room for the 200 kB answer
    body = bytes(i % 251 for i in range(200_000))
    stream_window, connection_window, sent = 4096, 65_535, 0
    client.send(f.HEADERS, f.END_HEADERS, 1, client.headers_block())
    while sent < len(body):
        count = min(stream_window, connection_window, 16_384, len(body) - sent)
        if count == 0:
            kind, _, stream_id, payload = client.read()
            if kind == f.WINDOW_UPDATE:
                if stream_id:
                    stream_window += f.u31(payload)
                else:
                    connection_window += f.u31(payload)
            continue
        last = sent + count == len(body)
        client.send(f.DATA, f.END_STREAM if last else 0, 1, body[sent : sent + count])
        sent, stream_window, connection_window = (
            sent + count,
            stream_window - count,
            connection_window - count,
        )
    assert client.response(1)[1] == body[::-1]
    client.close()


def test_only_the_oldest_bodies_flow_the_rest_wait_for_them(echo_server: Start) -> None:
    server = echo_server(stream_window=4096, flowing_bodies=1, max_body_bytes=1 << 20)
    client = _client(server)
    for stream_id in (1, 3):
        client.send(f.HEADERS, f.END_HEADERS, stream_id, client.headers_block())
    client.send(f.DATA, 0, 3, b"b" * 4096)  # the younger body spends its first window
    client.send(f.DATA, 0, 1, b"a" * 4096)
    update = client.read_until(f.WINDOW_UPDATE, 1)[-1]
    assert f.u31(update[3]) == 4096
    with pytest.raises(TimeoutError):
        client.read_until(f.WINDOW_UPDATE, 3, timeout=0.3)  # it waits for the older one
    client.send(f.DATA, f.END_STREAM, 1, b"a")
    frames = client.read_until(f.WINDOW_UPDATE, 3)  # stream 1 arrived whole: stream 3 flows
    assert f.u31(frames[-1][3]) == 4096
    client.send(f.DATA, f.END_STREAM, 3, b"b")
    assert client.response(3)[1] == b"b" * 4097
    client.close()


def test_overrunning_a_window_is_a_flow_control_error(echo_server: Start) -> None:
    client = _client(echo_server(stream_window=4096))
    client.send(f.HEADERS, f.END_HEADERS, 1, client.headers_block())
    client.send(f.DATA, 0, 1, b"x" * 5000)
    rst = client.read_until(f.RST_STREAM, 1)[-1]
    assert f.u32(rst[3]) == f.FLOW_CONTROL_ERROR
    client.request(3, b"still served")
    assert client.response(3)[1] == b"devres llits"
    client.close()


def test_streams_beyond_the_limit_are_refused(echo_server: Start) -> None:
    server = echo_server(max_concurrent_streams=2)
    client = _client(server)
    for stream_id in (1, 3, 5):
        client.request(stream_id, b"x", path=b"/hold")
    rst = client.read_until(f.RST_STREAM)[-1]
    assert rst[2] == 5 and f.u32(rst[3]) == f.REFUSED_STREAM
    _wait(lambda: len(server.held) == 2)
    server.release()
    assert client.response(1)[1] == b"x" and client.response(3)[1] == b"x"
    client.request(7, b"y")  # room again
    assert client.response(7)[1] == b"y"
    client.close()


def test_an_oversized_body_is_answered_early_and_the_rest_dropped(echo_server: Start) -> None:
    server = echo_server(max_body_bytes=100)
    client = _client(server)
    client.send(f.HEADERS, f.END_HEADERS, 1, client.headers_block())
    client.send(f.DATA, 0, 1, b"x" * 150)
    headers, _, _ = client.response(1)
    assert (":status", "413") in headers
    rst = client.read_until(f.RST_STREAM, 1)[-1]
    assert f.u32(rst[3]) == f.NO_ERROR
    client.send(f.DATA, f.END_STREAM, 1, b"late data is ignored")
    client.request(3, b"ok")
    assert client.response(3)[1] == b"ko"
    assert server.oversized == [1]
    client.close()


def test_a_client_reset_reaches_the_handler(echo_server: Start) -> None:
    server = echo_server()
    client = _client(server)
    client.request(1, b"x", path=b"/hold")
    _wait(lambda: len(server.held) == 1)
    client.send(f.RST_STREAM, 0, 1, f.CANCEL.to_bytes(4, "big"))
    _wait(lambda: server.resets == [1])
    server.release()  # answering a reset stream sends nothing
    client.request(3, b"z")
    _, body, _ = client.response(3)
    assert body == b"z"
    client.close()


def test_a_client_resetting_streams_in_a_loop_is_sent_away(echo_server: Start) -> None:
    server = echo_server(resets_per_second=1.0, reset_burst=20)
    client = _client(server)
    for stream_id in range(1, 200, 2):  # "rapid reset": start a call, cancel it, again
        client.request(stream_id, path=b"/hold")
        client.send(f.RST_STREAM, 0, stream_id, f.CANCEL.to_bytes(4, "big"))
    assert client.goaway_code() == f.ENHANCE_YOUR_CALM
    assert 20 <= len(server.resets) < 30
    client.close()


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (lambda c: c.send(f.DATA, 0, 0, b"x"), f.PROTOCOL_ERROR),
        (lambda c: c.send(f.HEADERS, f.END_HEADERS | f.END_STREAM, 2, c.headers_block()), f.PROTOCOL_ERROR),
        (lambda c: c.send(f.DATA, 0, 9, b"x"), f.PROTOCOL_ERROR),  # an idle stream
        (lambda c: c.send(f.CONTINUATION, f.END_HEADERS, 1, b""), f.PROTOCOL_ERROR),
        (lambda c: c.send(f.HEADERS, f.END_HEADERS, 1, b"\x80"), f.COMPRESSION_ERROR),  # HPACK index 0
        (lambda c: c.send(f.PING, 0, 0, b"short"), f.FRAME_SIZE_ERROR),
        (lambda c: c.send(f.SETTINGS, 0, 0, b"\x00\x04\xff\xff\xff\xff"), f.FLOW_CONTROL_ERROR),
        (lambda c: c.send(f.WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"), f.PROTOCOL_ERROR),
        (lambda c: c.send(f.PUSH_PROMISE, f.END_HEADERS, 1, b"\x00\x00\x00\x02"), f.PROTOCOL_ERROR),
        (
            lambda c: c.sock.sendall(f.HEAD.pack(20_000 << 8 | f.DATA, 0, 1) + b"x" * 20_000),
            f.FRAME_SIZE_ERROR,
        ),
        (
            lambda c: (c.send(f.HEADERS, 0, 1, c.headers_block()), c.send(f.PING, 0, 0, b"12345678")),
            f.PROTOCOL_ERROR,  # a header block interrupted
        ),
    ],
)
def test_protocol_errors_end_the_connection_with_goaway(
    echo_server: Start, send: Callable[[RawClient], object], code: int
) -> None:
    client = _client(echo_server())
    send(client)
    assert client.goaway_code() == code
    with pytest.raises(EOFError):
        while True:
            client.read()
    client.close()


def test_a_wrong_preface_is_refused(echo_server: Start) -> None:
    client = RawClient(echo_server().port)
    client.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert client.goaway_code() == f.PROTOCOL_ERROR
    client.close()


def test_shutdown_finishes_open_streams_and_refuses_new_ones(echo_server: Start) -> None:
    server = echo_server()
    client = _client(server)
    client.request(1, b"first", path=b"/hold")
    _wait(lambda: len(server.held) == 1)
    stopped = server.stop(grace=10)
    goaway = client.read_until(f.GOAWAY)[-1]
    assert f.u31(goaway[3]) == 1 and f.u32(goaway[3][4:]) == f.NO_ERROR
    client.request(3, b"second")
    rst = client.read_until(f.RST_STREAM, 3)[-1]
    assert f.u32(rst[3]) == f.REFUSED_STREAM
    server.release()
    assert client.response(1)[1] == b"tsrif"
    stopped.result(10)
    with pytest.raises(EOFError):
        while True:
            client.read()
    client.close()


def test_a_silent_client_is_closed_after_the_preface_timeout(echo_server: Start) -> None:
    client = RawClient(echo_server(preface_seconds=0.2).port)
    with pytest.raises(EOFError):
        while True:
            client.read(timeout=3)
    client.close()


def test_headers_on_a_stream_both_sides_ended_is_a_connection_error(echo_server: Start) -> None:
    client = _client(echo_server())
    client.request(1, b"x")
    assert client.response(1)[1] == b"x"
    client.send(f.HEADERS, f.END_HEADERS | f.END_STREAM, 1, client.headers_block())
    assert client.goaway_code() == f.STREAM_CLOSED  # RFC 9113 §5.1, "closed"
    client.close()


def test_headers_on_a_skipped_stream_id_is_a_protocol_error(echo_server: Start) -> None:
    client = _client(echo_server())
    client.request(5, b"x")
    assert client.response(5)[1] == b"x"
    client.send(f.HEADERS, f.END_HEADERS | f.END_STREAM, 3, client.headers_block())
    assert client.goaway_code() == f.PROTOCOL_ERROR  # RFC 9113 §5.1.1: not above the last opened
    client.close()


def test_frames_on_a_stream_the_server_reset_are_ignored(echo_server: Start) -> None:
    server = echo_server(max_concurrent_streams=1)
    client = _client(server)
    client.request(1, b"x", path=b"/hold")
    client.send(f.HEADERS, f.END_HEADERS, 3, client.headers_block())  # refused: one stream at a time
    rst = client.read_until(f.RST_STREAM, 3)[-1]
    assert f.u32(rst[3]) == f.REFUSED_STREAM
    client.send(f.DATA, f.END_STREAM, 3, b"in flight")  # the client had not seen the reset yet
    _wait(lambda: len(server.held) == 1)
    server.release()
    assert client.response(1)[1] == b"x"
    client.request(5, b"y")
    assert client.response(5)[1] == b"y"
    client.close()


def test_headers_on_a_half_closed_stream_is_a_stream_error(echo_server: Start) -> None:
    server = echo_server()
    client = _client(server)
    client.request(1, b"x", path=b"/hold")
    _wait(lambda: len(server.held) == 1)
    client.send(f.HEADERS, f.END_HEADERS | f.END_STREAM, 1, client.headers_block())
    rst = client.read_until(f.RST_STREAM, 1)[-1]
    assert f.u32(rst[3]) == f.STREAM_CLOSED
    _wait(lambda: server.resets == [1])
    client.request(3, b"z")
    assert client.response(3)[1] == b"z"
    client.close()


def test_only_the_last_initial_window_size_of_a_settings_frame_counts(echo_server: Start) -> None:
    client = _client(echo_server(), {f.INITIAL_WINDOW_SIZE: 0})
    client.read_until(f.SETTINGS)
    client.request(1, b"abcdefghij")
    client.read_until(f.HEADERS, 1)
    entries = [(f.INITIAL_WINDOW_SIZE, 100)] * 2000 + [(f.INITIAL_WINDOW_SIZE, 3)]
    payload = b"".join(struct.pack(">HI", key, value) for key, value in entries)
    client.send(f.SETTINGS, 0, 0, payload)
    assert client.read_until(f.DATA, 1)[-1][3] == b"jih"
    client.close()
