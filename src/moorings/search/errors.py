"""Search errors beyond the shared hierarchy in :mod:`moorings.errors`."""

from __future__ import annotations

from moorings.errors import MooringsError


class AlreadyExists(MooringsError):
    http_status = 409
    grpc_code = "ALREADY_EXISTS"
