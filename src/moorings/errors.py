"""One error hierarchy for every protocol.

Each error carries the HTTP status and the gRPC status code it maps to, so the
REST and gRPC layers translate errors in one place and never guess::

    MooringsError                      500 / INTERNAL
     ├── InvalidArgument               400 / INVALID_ARGUMENT
     ├── NotFound                      404 / NOT_FOUND
     ├── Unavailable                   503 / UNAVAILABLE
     ├── ResourceExhausted             429 / RESOURCE_EXHAUSTED
     │    └── PayloadTooLarge          413 / RESOURCE_EXHAUSTED
     ├── UnsupportedMediaType          415 / INVALID_ARGUMENT
     ├── DeadlineExceeded              504 / DEADLINE_EXCEEDED
     ├── FailedPrecondition            400 / FAILED_PRECONDITION
     ├── Unimplemented                 501 / UNIMPLEMENTED
     ├── Unauthenticated               401 / UNAUTHENTICATED
     ├── PermissionDenied              403 / PERMISSION_DENIED
     └── LoadError                     500 / INTERNAL   (a model version failed to load)

The status mapping follows TensorFlow Serving's HTTP mapping of canonical codes.
"""

from __future__ import annotations

import re


class MooringsError(Exception):
    """Base of every error Moorings reports to a client."""

    http_status: int = 500
    grpc_code: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(MooringsError):
    http_status = 400
    grpc_code = "INVALID_ARGUMENT"


class NotFound(MooringsError):
    http_status = 404
    grpc_code = "NOT_FOUND"


class Unavailable(MooringsError):
    http_status = 503
    grpc_code = "UNAVAILABLE"


class ResourceExhausted(MooringsError):
    http_status = 429
    grpc_code = "RESOURCE_EXHAUSTED"


class PayloadTooLarge(ResourceExhausted):
    http_status = 413


class UnsupportedMediaType(MooringsError):
    """The body is in an encoding or format the server does not read."""

    http_status = 415
    grpc_code = "INVALID_ARGUMENT"


class DeadlineExceeded(MooringsError):
    http_status = 504
    grpc_code = "DEADLINE_EXCEEDED"


class FailedPrecondition(MooringsError):
    http_status = 400
    grpc_code = "FAILED_PRECONDITION"


class Unimplemented(MooringsError):
    http_status = 501
    grpc_code = "UNIMPLEMENTED"


class Unauthenticated(MooringsError):
    """The request carries no valid credentials (REST answers carry ``WWW-Authenticate``)."""

    http_status = 401
    grpc_code = "UNAUTHENTICATED"

    def __init__(self, message: str, challenge: bytes = b'Bearer realm="moorings"') -> None:
        super().__init__(message)
        #: the ``WWW-Authenticate`` value of the 401 answer
        self.challenge = challenge


class PermissionDenied(MooringsError):
    """The request is understood but not allowed on this port."""

    http_status = 403
    grpc_code = "PERMISSION_DENIED"


class LoadError(MooringsError):
    """A model version could not be loaded; the message is shown in the status API."""


class MethodNotAllowed(MooringsError):
    """The route exists but not for this HTTP method."""

    http_status = 405
    grpc_code = "UNIMPLEMENTED"


def first_line(exc: BaseException, limit: int | None = 300) -> str:
    """The first non-blank line of an exception's message (its type name when empty), cut to ``limit``."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:limit]


#: an absolute POSIX path (not a URL, not the tail of a relative name) or a Windows drive path
_ABSOLUTE_PATH = re.compile(r"(?<![\w>.:/~-])/[^\s\"'`,;()\[\]{}<>]+|\b[A-Za-z]:\\[^\s\"'`,;()\[\]{}<>]+")


def hide_paths(message: str, root: str | None = None) -> str:
    """``message`` with ``root`` shown as ``<repository>`` and every other absolute path as ``<path>``."""
    if root:
        for prefix in {root, root.replace("/", "\\")}:
            message = re.sub(re.escape(prefix) + r"(?![\w.-])", "<repository>", message)
    return _ABSOLUTE_PATH.sub("<path>", message)
