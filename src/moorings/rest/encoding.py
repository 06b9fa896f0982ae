"""Compressed request bodies (``Content-Encoding: gzip`` or ``deflate``, as tritonclient sends them).

A body is inflated before any route reads it, at most to the server's body limit: a small
compressed body that would inflate past ``--max-body-mb`` is a 413 as soon as the limit is
crossed, never a large allocation. Any other coding is a 415 naming it; without the header, or
with ``identity``, the body is used as sent.
"""

from __future__ import annotations

import zlib

from moorings.errors import InvalidArgument, PayloadTooLarge, UnsupportedMediaType

#: zlib window bits per coding: gzip's header and trailer; deflate as HTTP means it, the zlib format
_WBITS = {b"gzip": 16 + zlib.MAX_WBITS, b"x-gzip": 16 + zlib.MAX_WBITS, b"deflate": zlib.MAX_WBITS}


def decoded_body(body: bytes | bytearray, coding: bytes | None, limit: int) -> bytes | bytearray:
    """``body`` as the client meant it, given its Content-Encoding header."""
    if coding is None:
        return body
    name = coding.strip().lower()
    if name in (b"", b"identity"):
        return body
    wbits = _WBITS.get(name)
    if wbits is None:
        shown = coding.decode("latin-1")[:40]
        raise UnsupportedMediaType(
            f"Content-Encoding {shown!r} is not supported; send the body as is, or gzip or deflate it"
        )
    inflater = zlib.decompressobj(wbits)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidArgument(f"the {name.decode()} body cannot be inflated: {exc}") from None
    if len(inflated) > limit:
        raise PayloadTooLarge(f"the request body inflates to over the limit of {limit} bytes")
    if not inflater.eof:
        raise InvalidArgument(f"the {name.decode()} body ends before its compressed data does")
    return inflated
