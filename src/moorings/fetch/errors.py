"""The errors of fetching an input URL that the bottom layer's hierarchy has no class for."""

from __future__ import annotations

from moorings.errors import MooringsError


class UpstreamError(MooringsError):
    """The object store or endpoint failed (5xx, refused connection): a 502, not the client's fault."""

    http_status = 502
    grpc_code = "UNAVAILABLE"
