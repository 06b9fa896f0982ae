"""The server's settings for inputs given by URL (``--allow-input-url`` and the flags beside it)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class FetchSettings:
    #: ``--allow-input-url`` entries (see :mod:`moorings.fetch.allowlist`); empty: none allowed
    allowed: tuple[str, ...] = ()
    #: ``--s3-endpoint-url``: an S3-compatible store for ``s3://`` URLs (None: AWS)
    s3_endpoint_url: str | None = None
    #: ``--max-input-url-bytes``: the most bytes fetched for one request, all its URLs together
    max_bytes: int = DEFAULT_MAX_BYTES
    #: ``--input-url-timeout-seconds``: how long one request's fetches may take
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    #: threads fetching, for the whole server
    threads: int = 8
    #: fetches under way at once for one request
    per_request: int = 4
