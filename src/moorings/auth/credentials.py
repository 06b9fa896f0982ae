"""The credential a request presents: ``Authorization: Bearer <token>`` or ``X-API-Key: <token>``.

Both REST headers and gRPC metadata (the same names, in lower case) carry it.
When both are sent, ``Authorization`` is the one checked. A request carrying either
header more than once presents no valid token (a proxy in front may have read the other one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from moorings.errors import Unauthenticated

AUTHORIZATION = b"authorization"
API_KEY = b"x-api-key"
CHALLENGE = b'Bearer realm="moorings"'
INVALID_CHALLENGE = b'Bearer realm="moorings", error="invalid_token"'
HOW = "send 'Authorization: Bearer <token>' or 'X-API-Key: <token>'"


class Presented(NamedTuple):
    #: the token presented, or None
    token: bytes | None
    #: whether the request carried a credential header at all
    sent: bool


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("latin-1", "replace")


def presented(headers: Iterable[tuple[Any, Any]]) -> Presented:
    """The token in ``headers`` (bytes or str pairs, names in lower case as HTTP/2 and gRPC send them)."""
    bearer = key = None
    repeated = False
    for name, value in headers:
        raw = _as_bytes(name).lower()
        if raw == AUTHORIZATION:
            repeated |= bearer is not None
            bearer = _as_bytes(value)
        elif raw == API_KEY:
            repeated |= key is not None
            key = _as_bytes(value)
    if repeated:
        return Presented(None, True)
    if bearer is not None:
        scheme, _, token = bearer.strip().partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            return Presented(None, True)
        return Presented(token.strip(), True)
    if key is not None:
        return Presented(key.strip() or None, True)
    return Presented(None, False)


def refusal(credential: Presented) -> Unauthenticated:
    """The error for a request whose credential was missing or not accepted (the token is never shown)."""
    if not credential.sent:
        return Unauthenticated(f"this server requires a token: {HOW}", CHALLENGE)
    return Unauthenticated(f"the token is not valid: {HOW} with a token this server knows", INVALID_CHALLENGE)
