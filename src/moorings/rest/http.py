"""Small HTTP helpers: bounded ASGI bodies, JSON in and out, path segments, method checks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_to_bytes

import numpy as np
import orjson

from moorings.errors import InvalidArgument, MethodNotAllowed, PayloadTooLarge
from moorings.http1.messages import Headers, Streamed

Scope = dict[str, Any]
Receive = Any
Send = Any

JSON_HEADERS = [(b"content-type", b"application/json")]
_DUMP_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def path_segments(raw_path: bytes) -> list[str]:
    """The path split on '/', each segment percent-decoded on its own ('%2F' stays inside one)."""
    return list(_split_path(raw_path))


@lru_cache(maxsize=4096)
def _split_path(raw: bytes) -> tuple[str, ...]:
    """Cached: clients call the same few paths over and over (bad paths raise, and are not cached)."""
    segments = []
    for part in raw.split(b"/"):
        try:
            segments.append(unquote_to_bytes(part).decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidArgument("the URL path is not valid UTF-8") from None
    return tuple(segments)


#: the most digits a byte count in a header may have (no body is 10**18 bytes)
MAX_COUNT_DIGITS = 18


def header_count(value: bytes, name: str, expected: str = "a number of bytes") -> int:
    """A header's value read as a count of bytes: ASCII digits only, at most ``MAX_COUNT_DIGITS``.

    InvalidArgument naming the header and what it must be otherwise (``int()`` alone takes '²',
    and raises ValueError on thousands of digits).
    """
    digits = value.strip(b" \t")
    if not digits.isdigit() or len(digits) > MAX_COUNT_DIGITS:  # bytes.isdigit(): ASCII digits only
        text = digits[:40].decode("latin-1")
        shown = text if len(digits) <= 40 else f"{text}... ({len(digits)} characters)"
        raise InvalidArgument(f"{name} must be {expected}, got {shown!r}")
    return int(digits)


def check_declared_length(length: bytes | None, limit: int) -> None:
    """413 before reading a body whose Content-Length is over the limit (400 when it is no number)."""
    if length is not None:
        size = header_count(length, "Content-Length")
        if size > limit:
            raise PayloadTooLarge(f"the request body is {size} bytes; the limit is {limit} bytes")


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is over the limit of {limit} bytes")


async def read_asgi_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """An ASGI request's whole body, or PayloadTooLarge as soon as it passes ``limit``."""
    length = next((bytes(v) for k, v in scope["headers"] if k == b"content-length"), None)
    check_declared_length(length, limit)
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def parse_json(body: bytes | bytearray, fast: Callable[[bytes | bytearray], Any] | None = None) -> Any:
    """The JSON body; ``fast`` (a reader of one body form, None when the body has another) goes first."""
    if fast is not None:
        parsed = fast(body)
        if parsed is not None:
            return parsed
    if not body:
        raise InvalidArgument("the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"malformed JSON in the request body: {exc}") from None


def _fallback(value: Any) -> Any:
    """numpy values orjson does not write natively (e.g. ``longlong`` arrays from ONNX Runtime)."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dump_json(value: Any) -> bytes:
    return orjson.dumps(value, default=_fallback, option=_DUMP_OPTIONS)


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] = JSON_HEADERS
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_streamed(send: Send, receive: Receive, status: int, body: Streamed, headers: Headers) -> None:
    """ASGI: send ``body``'s pieces as they come (``send`` waits while the client is slow); the
    client's disconnect stops them and closes the generator."""
    await send({"type": "http.response.start", "status": status, "headers": headers})

    async def pump() -> None:
        async for piece in body.chunks:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    tasks = {asyncio.ensure_future(pump()), asyncio.ensure_future(watch())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await body.close()


def allow_method(method: str, allowed: str) -> None:
    """Raise 405 naming the method to use when a route is called with another one."""
    if method != allowed:
        raise MethodNotAllowed(f"method {method} is not allowed here; use {allowed}")
