"""HPACK work and memory are bounded per block, and a closed connection gives back what it held.

The bytes are the probe's (issue 20 #4): header blocks of 1,300 one-byte static-table
indices (0x81-0x87), each decoding to a long list of fields.
"""

from __future__ import annotations

import gc
import time
import weakref

from moorings.http2 import frames as f
from moorings.http2.connection import Http2Connection
from tests.hostile.http2_client import connect, echo_server, goaway_and_close, send_quietly

INDEX_BLOCK = bytes(0x81 + i % 7 for i in range(1300))


def test_the_server_advertises_its_header_list_size() -> None:
    with echo_server() as server:
        client = connect(server)
        assert client.server_settings[f.MAX_HEADER_LIST_SIZE] == 16 * 1024
        client.close()


def test_a_block_of_1300_indexed_fields_is_refused_by_its_field_count() -> None:
    with echo_server(max_header_list_bytes=64 * 1024) as server:  # the list size alone would pass it
        client = connect(server)
        send_quietly(client, f.frame(f.HEADERS, f.END_HEADERS | f.END_STREAM, 1, INDEX_BLOCK) * 64)
        assert goaway_and_close(client) == f.ENHANCE_YOUR_CALM
        client.close()


def test_a_decoded_list_past_the_limit_is_refused() -> None:
    with echo_server(max_header_list_bytes=2000) as server:
        client = connect(server)
        big = client.headers_block(extra=[(b"x-big", b"v" * 1900)])  # under 2,000 bytes encoded
        client.send(f.HEADERS, f.END_HEADERS | f.END_STREAM, 1, big)
        assert goaway_and_close(client) == f.ENHANCE_YOUR_CALM
        client.close()


def test_requests_with_ordinary_headers_still_pass() -> None:
    with echo_server() as server:
        client = connect(server)
        extra = [(f"x-meta-{i}".encode(), b"v" * 20) for i in range(60)]
        client.send(f.HEADERS, f.END_HEADERS, 1, client.headers_block(extra=extra))
        client.send(f.DATA, f.END_STREAM, 1, b"abc")
        assert client.response(1)[1] == b"cba"
        client.close()


def _connections(server: object) -> set[Http2Connection]:
    connections: set[Http2Connection] = server.server._connections  # type: ignore[attr-defined]
    return connections


def test_a_closed_connection_is_freed_without_a_garbage_collection() -> None:
    """Bodies, streams and the decoder cache go with the connection, not at the next full collection."""
    with echo_server(stream_window=1 << 20, max_body_bytes=8 << 20) as server:
        gc.collect()
        gc.disable()
        try:
            client = connect(server)
            for stream_id in (1, 3, 5, 7):  # unfinished bodies, as in the probe
                client.send(f.HEADERS, f.END_HEADERS, stream_id, client.headers_block())
                client.send(f.DATA, 0, stream_id, b"x" * 16_000)
            client.request(9, b"done")
            assert client.response(9)[1] == b"enod"
            (connection,) = _connections(server)
            held = weakref.ref(connection)
            streams = list(connection._streams.values())
            assert sum(len(stream.body) for stream in streams) == 64_000
            del connection
            client.close()
            deadline = time.monotonic() + 5
            while _connections(server) and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.05)  # the loop finishes the callbacks of the close
            assert held() is None, gc.get_referrers(held())
            assert all(not stream.body and stream._connection is None for stream in streams)
        finally:
            gc.enable()
