"""The servicer context that Moorings' own gRPC front end hands to method handlers.

It offers what the handlers here (and grpcio's generated servicer bases) use
of ``grpc.aio.ServicerContext``: ``abort``, ``time_remaining``,
``invocation_metadata``, ``set_code``/``set_details``, ``peer``. ``abort``
raises :class:`moorings.grpc.wire.CallError`, a ``grpc.aio.AbortError``, so
code written for grpc.aio treats it the same way.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import NoReturn

import grpc

from moorings.grpc.wire import CallError

Metadata = tuple[tuple[str, str | bytes], ...]

#: headers of the HTTP/2 and gRPC protocols themselves, not call metadata
_PROTOCOL_HEADERS = frozenset(
    {b"te", b"content-type", b"grpc-timeout", b"grpc-encoding", b"grpc-accept-encoding"}
)


class CallContext:
    __slots__ = ("_deadline", "_headers", "_peer", "details", "expired", "status", "trailing")

    def __init__(self, deadline: float | None, headers: list[tuple[bytes, bytes]], peer: str) -> None:
        self._deadline = deadline  # time.monotonic() value
        self._headers = headers
        self._peer = peer
        self.status: grpc.StatusCode | None = None
        self.details = ""
        self.expired = False  # set when the deadline cancelled the call
        #: the trailing metadata the call ends with (text values; see :meth:`set_trailing_metadata`)
        self.trailing: Metadata = ()

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Metadata = ()
    ) -> NoReturn:
        if code == grpc.StatusCode.OK:
            raise ValueError("abort() needs a status other than OK")
        raise CallError(code, details)

    def time_remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def invocation_metadata(self) -> Metadata:
        items: list[tuple[str, str | bytes]] = []
        for name, value in self._headers:
            if name.startswith(b":") or name in _PROTOCOL_HEADERS:
                continue
            key = name.decode("ascii", "replace")
            if key.endswith("-bin"):
                items.append((key, _binary(value)))
            else:
                items.append((key, value.decode("ascii", "replace")))
        return tuple(items)

    def set_trailing_metadata(self, metadata: Metadata) -> None:
        """Metadata sent in the trailers, whatever the call's status (text values only)."""
        self.trailing = tuple(metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        self.status = code

    def set_details(self, details: str) -> None:
        self.details = details

    def code(self) -> grpc.StatusCode | None:
        return self.status

    def peer(self) -> str:
        return self._peer


def _binary(value: bytes) -> bytes:
    """A ``-bin`` metadata value: base64, padded or not; a client's bad encoding comes through raw."""
    try:
        return base64.b64decode(value + b"=" * (-len(value) % 4))
    except binascii.Error:
        return value
