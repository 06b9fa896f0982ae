"""gRPC over HTTP/2 on the wire: message framing, compression, ``grpc-timeout``, status trailers.

The shapes are those of the gRPC HTTP/2 protocol description
(``doc/PROTOCOL-HTTP2.md`` in grpc/grpc): a message is a compressed flag, a
4-byte big-endian length and the bytes; the status travels in trailers
(``grpc-status``, percent-encoded ``grpc-message``), or alone in the response
headers when there is no message ("trailers-only").
"""

from __future__ import annotations

import zlib

import grpc
import grpc.aio

from moorings.http2.header_blocks import CONTENT_TYPE, STATUS_200, literal, literal_static_name

ACCEPT_ENCODING = b"identity,deflate,gzip"
_HEAD = STATUS_200 + literal_static_name(CONTENT_TYPE, b"application/grpc")
RESPONSE_HEADERS = _HEAD + literal(b"grpc-accept-encoding", ACCEPT_ENCODING)
OK_TRAILERS = literal(b"grpc-status", b"0")

_TIMEOUT_UNITS = {
    ord("H"): 3600.0,
    ord("M"): 60.0,
    ord("S"): 1.0,
    ord("m"): 1e-3,
    ord("u"): 1e-6,
    ord("n"): 1e-9,
}
_WBITS = {b"gzip": 31, b"deflate": 15}


class CallError(grpc.aio.AbortError):  # type: ignore[misc]
    """The call ends with status ``code``: raised by the front end, or by a handler's ``context.abort``.

    A ``grpc.aio.AbortError``, so code written for grpc.aio (``moorings.grpc.status.rpc``) lets it pass.
    """

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


def message(data: bytes) -> bytes:
    """One uncompressed length-prefixed message."""
    return b"\x00" + len(data).to_bytes(4, "big") + data


def request_message(body: bytes | bytearray, encoding: bytes | None, max_bytes: int) -> bytes:
    """The single message of a unary request body, decompressed."""
    if len(body) < 5:
        raise CallError(grpc.StatusCode.INTERNAL, "the request body holds no complete gRPC message")
    length = int.from_bytes(body[1:5], "big")
    if len(body) != 5 + length:
        raise CallError(
            grpc.StatusCode.INTERNAL,
            "the request body is not exactly one gRPC message (a unary call takes one)",
        )
    data = bytes(body[5:])
    if not body[0]:
        return data
    if body[0] != 1:
        raise CallError(grpc.StatusCode.INTERNAL, f"invalid message flag {body[0]}")
    wbits = _WBITS.get(encoding or b"identity")
    if wbits is None:
        if encoding in (None, b"identity"):
            raise CallError(
                grpc.StatusCode.INTERNAL, "the message is flagged compressed but grpc-encoding is identity"
            )
        raise CallError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"grpc-encoding {encoding.decode(errors='replace')!r} is not supported; "
            "use identity, deflate or gzip",
        )
    inflater = zlib.decompressobj(wbits)
    try:
        plain = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise CallError(
            grpc.StatusCode.INTERNAL, f"the compressed message cannot be decompressed: {exc}"
        ) from None
    if len(plain) > max_bytes or inflater.unconsumed_tail:
        raise CallError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"the decompressed request message is larger than the server's limit of {max_bytes} bytes",
        )
    return plain


def timeout_seconds(value: bytes) -> float:
    """``grpc-timeout``: up to 8 digits and a unit (H, M, S, m, u, n)."""
    digits, unit = value[:-1], value[-1:]
    scale = _TIMEOUT_UNITS.get(unit[0]) if unit else None
    if scale is None or not digits.isdigit() or len(digits) > 8:
        raise CallError(
            grpc.StatusCode.INTERNAL, f"malformed grpc-timeout {value.decode(errors='replace')!r}"
        )
    return int(digits) * scale


def _percent_encoded(text: str) -> bytes:
    return b"".join(
        bytes([byte]) if 0x20 <= byte <= 0x7E and byte != 0x25 else b"%%%02X" % byte for byte in text.encode()
    )


def status_fields(code: grpc.StatusCode, details: str) -> bytes:
    block = literal(b"grpc-status", str(code.value[0]).encode())
    if details:
        block += literal(b"grpc-message", _percent_encoded(details))
    return block


def metadata_fields(metadata: tuple[tuple[str, str | bytes], ...]) -> bytes:
    """Header fields for trailing metadata: text entries whose key and value are visible ASCII."""
    block = b""
    for key, value in metadata:
        if isinstance(value, str) and key.isascii() and value.isascii() and value.isprintable():
            block += literal(key.lower().encode(), value.encode())
    return block


def trailers_only(code: grpc.StatusCode, details: str) -> bytes:
    """The one header block of a call that ends without a message."""
    return _HEAD + status_fields(code, details)
