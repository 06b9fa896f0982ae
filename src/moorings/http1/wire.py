"""Bytes on the wire: status lines, the Date header, response heads, request paths, error bodies."""

from __future__ import annotations

import time
from email.utils import formatdate
from functools import lru_cache
from http import HTTPStatus

import httptools
import orjson

from moorings.http1.messages import Headers

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@lru_cache(maxsize=128)
def status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


class DateHeader:
    """The ``date:`` header line, rebuilt at most once a second (RFC 9110 wants it on answers)."""

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._line = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._line


def response(
    status: int,
    headers: Headers,
    body: bytes,
    date: bytes,
    keep_alive: bool,
    with_body: bool = True,
    http10: bool = False,
) -> bytes:
    """A whole response; ``with_body`` False for HEAD (the length is still the body's).

    ``http10``: the request was HTTP/1.0, whose keep-alive must be announced in the answer.
    """
    parts = [status_line(status), date]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"content-length: %d\r\n" % len(body))
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    elif http10:
        parts.append(b"connection: keep-alive\r\n")
    parts.append(b"\r\n")
    if with_body:
        parts.append(body)
    return b"".join(parts)


def streamed_head(status: int, headers: Headers, date: bytes, chunked: bool) -> bytes:
    """The head of a response whose body follows in pieces: chunked, or (HTTP/1.0) until the close."""
    parts = [status_line(status), date]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"transfer-encoding: chunked\r\n\r\n" if chunked else b"connection: close\r\n\r\n")
    return b"".join(parts)


def chunk(data: bytes) -> bytes:
    """One piece of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


def path_of(url: bytes) -> bytes:
    """The path of an origin-form URL (``/a/b?q#f``) or of an absolute-form one (``http://h/a/b``).

    Neither the query nor a fragment (which clients should not send) is part of the path.
    """
    if url[:1] == b"/":
        for mark in b"?#":
            end = url.find(mark)
            if end >= 0:
                url = url[:end]
        return url
    try:
        return httptools.parse_url(url).path or b"/"
    except httptools.HttpParserInvalidURLError:
        return url[:200]


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})
