"""Search errors beyond the shared hierarchy in :mod:`moorings.errors`."""

from __future__ import annotations

from moorings.errors import MooringsError, Unavailable


class AlreadyExists(MooringsError):
    http_status = 409
    grpc_code = "ALREADY_EXISTS"


class StoreClosed(Unavailable):
    """A store used after it was closed: the server is stopping."""

    def __init__(self) -> None:
        super().__init__("the search store is closed (the server is stopping)")
