"""Compressed request bodies: inflated within the body limit, or refused naming the problem."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib

import pytest

from moorings.errors import InvalidArgument, PayloadTooLarge, UnsupportedMediaType
from moorings.rest.encoding import decoded_body

BODY = b'{"instances": [[1.0, 2.0, 3.0, 4.0]]}'


@pytest.mark.parametrize(
    ("coding", "compressed"),
    [(b"gzip", gzip.compress(BODY)), (b"GZip ", gzip.compress(BODY)), (b"deflate", zlib.compress(BODY))],
)
def test_gzip_and_deflate_are_inflated(coding: bytes, compressed: bytes) -> None:
    assert decoded_body(compressed, coding, 1 << 20) == BODY


def test_no_coding_or_identity_is_the_body_as_sent() -> None:
    assert decoded_body(BODY, None, 10) is BODY
    assert decoded_body(BODY, b"identity", 10) is BODY


def test_a_small_body_inflating_past_the_limit_is_413_without_inflating_it_all() -> None:
    bomb = gzip.compress(b"\0" * (256 << 20))  # 256 MiB of zeros in about 250 KB
    assert len(bomb) < 300_000
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="inflates to over the limit of 1048576 bytes"):
        decoded_body(bomb, b"gzip", 1 << 20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20 and time.perf_counter() - start < 2


def test_bad_codings_are_named() -> None:
    with pytest.raises(UnsupportedMediaType, match="Content-Encoding 'br' is not supported"):
        decoded_body(BODY, b"br", 1 << 20)
    with pytest.raises(InvalidArgument, match="the gzip body cannot be inflated"):
        decoded_body(BODY, b"gzip", 1 << 20)
    with pytest.raises(InvalidArgument, match="ends before its compressed data does"):
        decoded_body(gzip.compress(BODY)[:-12], b"gzip", 1 << 20)
