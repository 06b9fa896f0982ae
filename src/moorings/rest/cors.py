"""Cross-origin requests from browser apps, for the origins the operator allows (off by default).

With ``--cors-origin https://app.example`` (repeatable; ``*`` for any origin) a request that
carries an allowed ``Origin`` gets ``Access-Control-Allow-Origin`` on its answer, whatever the
status, and a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is answered 200 with
the methods and headers the API takes. Requests from other origins are served as before and get
no CORS headers, so the browser keeps their answers from the page. No credentials are allowed.
"""

from __future__ import annotations

from moorings.rest.request import Answer, Headers, Request

METHODS = b"GET, POST, DELETE, OPTIONS"
#: request headers a browser may send beyond the CORS-safelisted ones
ALLOWED_HEADERS = b"content-type, inference-header-content-length, authorization, x-request-id"
#: response headers a page may read (V2 binary answers say where the JSON ends)
EXPOSED_HEADERS = b"inference-header-content-length"
MAX_AGE = b"600"


class CorsPolicy:
    def __init__(self, origins: tuple[str, ...]) -> None:
        self.any = "*" in origins
        self.origins = frozenset(o.rstrip("/").encode() for o in origins if o != "*")

    def allowed(self, request: Request) -> bytes | None:
        """The request's Origin when it may read the answer, else None."""
        origin = request.header(b"origin")
        if origin is None or not (self.any or origin in self.origins):
            return None
        return origin

    def preflight(self, request: Request) -> Answer | None:
        """The answer to a preflight from an allowed origin; None for any other request."""
        if request.method != "OPTIONS" or request.header(b"access-control-request-method") is None:
            return None
        origin = self.allowed(request)
        if origin is None:
            return None
        headers = [
            *self.headers(origin),
            (b"access-control-allow-methods", METHODS),
            (b"access-control-allow-headers", ALLOWED_HEADERS),
            (b"access-control-max-age", MAX_AGE),
        ]
        return 200, b"", headers

    def headers(self, origin: bytes) -> Headers:
        return [
            (b"access-control-allow-origin", b"*" if self.any else origin),
            (b"access-control-expose-headers", EXPOSED_HEADERS),
            (b"vary", b"origin"),
        ]
