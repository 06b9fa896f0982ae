"""HPACK: the decoder's cache stays right as the dynamic table changes; the server's encodings decode."""

from __future__ import annotations

import hpack
import pytest

from moorings.http2 import frames as f
from moorings.http2.frames import Http2Error
from moorings.http2.header_blocks import (
    HeaderDecoder,
    _changes_table,
    indexed,
    literal,
    literal_static_name,
    scan,
    status,
)


def test_a_cached_block_follows_the_table() -> None:
    encoder, decoder = hpack.Encoder(), HeaderDecoder(64 * 1024)
    assert decoder.decode(encoder.encode([("a", "1")])) == [(b"a", b"1")]  # inserts a: 1 at index 62
    again = encoder.encode([("a", "1")])
    assert again == indexed(62)
    assert decoder.decode(again) == [(b"a", b"1")]
    assert decoder.decode(again) == [(b"a", b"1")]  # from the cache
    decoder.decode(encoder.encode([("b", "2")]))  # inserts b: 2 at 62; a: 1 moves to 63
    assert decoder.decode(indexed(62)) == [(b"b", b"2")]
    assert decoder.decode(indexed(63)) == [(b"a", b"1")]


def test_which_blocks_change_the_table() -> None:
    encoder = hpack.Encoder()
    assert _changes_table(encoder.encode([("x-new", "v")]))  # incremental indexing
    assert not _changes_table(encoder.encode([("x-new", "v")]))  # now indexed
    assert not _changes_table(literal(b"x-other", b"v" * 300))  # without indexing, long value
    assert not _changes_table(bytes(encoder.encode([hpack.NeverIndexedHeaderTuple("secret", "s")])))
    assert not _changes_table(indexed(2) + literal_static_name(31, b"application/grpc") + indexed(70))
    assert _changes_table(b"\x3f\xe1\x1f")  # dynamic table size update to 4096
    assert _changes_table(literal(b"k", b"v") + b"\x40\x01k\x01v")  # a literal, then an indexing one


def test_server_encodings_decode() -> None:
    block = status(200) + status(404) + literal(b"grpc-status", b"0") + literal(b"long", b"x" * 200)
    block += literal_static_name(31, b"application/grpc")
    assert hpack.Decoder().decode(block) == [
        (":status", "200"),
        (":status", "404"),
        ("grpc-status", "0"),
        ("long", "x" * 200),
        ("content-type", "application/grpc"),
    ]


def test_bad_blocks_are_connection_errors() -> None:
    with pytest.raises(Http2Error) as info:
        HeaderDecoder(1024).decode(b"\x80")
    assert info.value.code == f.COMPRESSION_ERROR
    with pytest.raises(Http2Error) as info:
        HeaderDecoder(100).decode(literal(b"big", b"x" * 200))
    assert info.value.code == f.ENHANCE_YOUR_CALM


def test_scan_counts_fields_without_decoding() -> None:
    encoder = hpack.Encoder()
    block = encoder.encode([("a", "1"), ("b", "2"), (":method", "GET")])
    assert scan(block, 128) == (3, True)
    assert scan(indexed(2) + literal(b"k", b"v" * 300) + b"\x3f\xe1\x1f", 128) == (2, True)
    assert scan(bytes([0x82]) * 1300, 128) == (1300, False)
    long = literal(b"k", b"v") * 1000
    assert scan(long, 10)[0] == 11  # counting stops past the limit
    assert scan(b"\x00\x7f\xff\xff\xff\xff\xff\xff\x01", 128)[0] == 1  # an endless length: stops


def test_too_many_fields_are_refused_before_decoding() -> None:
    decoder = HeaderDecoder(64 * 1024, max_fields=10)
    assert len(decoder.decode(bytes([0x82]) * 10)) == 10
    with pytest.raises(Http2Error) as info:
        decoder.decode(bytes([0x82]) * 11)
    assert info.value.code == f.ENHANCE_YOUR_CALM
