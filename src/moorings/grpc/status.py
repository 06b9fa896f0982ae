"""Moorings errors -> gRPC status codes, in one place, and the client's deadline.

Every RPC handler is wrapped with :func:`rpc`: a :class:`~moorings.errors.MooringsError`
aborts the call with the error's ``grpc_code`` and message; anything else is
logged and answered INTERNAL without details.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from moorings.errors import DeadlineExceeded, MooringsError

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Response = TypeVar("Response")
Handler = Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]]


def status_code(exc: MooringsError) -> grpc.StatusCode:
    """The gRPC status code of an error (``errors.py`` names it as ``grpc_code``)."""
    return grpc.StatusCode[exc.grpc_code]


def rpc(handler: Handler[Request, Response]) -> Handler[Request, Response]:
    """Translate errors raised by a servicer method into the gRPC status the client sees."""

    @functools.wraps(handler)
    async def wrapped(self: Any, request: Request, context: grpc.aio.ServicerContext) -> Response:
        try:
            return await handler(self, request, context)
        except MooringsError as exc:
            await context.abort(status_code(exc), exc.message)
        except grpc.aio.AbortError:
            raise
        except Exception:
            log.exception("unhandled error in %s", handler.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error; see the server log")
        raise AssertionError("context.abort returned")  # pragma: no cover

    return wrapped


def deadline(context: grpc.aio.ServicerContext) -> float | None:
    """The client's deadline as a ``time.monotonic()`` value; DeadlineExceeded if it has passed."""
    remaining: float | None = context.time_remaining()
    if remaining is None:
        return None
    if remaining <= 0:
        raise DeadlineExceeded("the client's deadline passed before the request was run")
    return time.monotonic() + remaining
