"""The REST check: every route needs a valid token except the health probes.

``/v2/health/live`` and ``/v2/health/ready`` answer without one (Kubernetes
probes send no credentials); CORS preflight requests never reach the check.
``/metrics`` on the REST port needs a token like every other route (Prometheus
sends one with ``authorization.credentials_file``); ``--metrics-port`` serves
it without one, on an address the operator chooses.
"""

from __future__ import annotations

from moorings.auth.credentials import presented, refusal
from moorings.auth.tokens import TokenFile
from moorings.http1.messages import Request

#: path segments (after the leading '/') answered without a token
EXEMPT_PATHS = frozenset({("v2", "health", "live"), ("v2", "health", "ready")})


class RestGuard:
    def __init__(self, tokens: TokenFile, exempt: frozenset[tuple[str, ...]] = EXEMPT_PATHS) -> None:
        self.tokens = tokens
        self.exempt = exempt

    def check(self, request: Request, segments: list[str]) -> None:
        """Return when the request may go on; raise Unauthenticated (401) otherwise."""
        if tuple(segments[1:]) in self.exempt:
            return
        credential = presented(request.headers)
        if not self.tokens.allows(credential.token):
            raise refusal(credential)
