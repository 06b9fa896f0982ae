"""Moorings errors -> gRPC status codes, in one place, and the client's deadline.

Every RPC handler is wrapped with :func:`rpc`: a :class:`~moorings.errors.MooringsError`
aborts the call with the error's ``grpc_code`` and message; anything else is
logged and answered INTERNAL without details. The wrapper also counts the call in the
metrics under its protocol (from the servicer's module) and route kind (from the method's
name), gives it a request id (``x-request-id`` metadata, or a W3C ``traceparent``, or a new
one) returned in the trailing metadata, and writes the access log line.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import grpc
from google.protobuf import empty_pb2

from moorings.errors import DeadlineExceeded, MooringsError
from moorings.observe import logs, metrics, tracing

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Response = TypeVar("Response")
Handler = Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]]


def status_code(exc: MooringsError) -> grpc.StatusCode:
    """The gRPC status code of an error (``errors.py`` names it as ``grpc_code``)."""
    return grpc.StatusCode[exc.grpc_code]


#: the protocol label of each servicer module's calls
PROTOCOLS = {"moorings.grpc.tfserving": "tfserving_grpc", "moorings.grpc.kserve": "v2_grpc"}
#: the route kind of each RPC (others count as "other")
KINDS = {
    "Predict": "predict", "ModelInfer": "predict", "Classify": "classify", "Regress": "regress",
    "GetModelMetadata": "metadata", "ModelMetadata": "metadata", "ServerMetadata": "metadata",
    "GetModelStatus": "status", "ModelReady": "status", "ServerReady": "status", "ServerLive": "status",
}  # fmt: skip


#: what a failed unary call returns with its status set (see ``rpc``)
_NO_RESPONSE = empty_pb2.Empty()


def rpc(handler: Handler[Request, Response]) -> Handler[Request, Response]:
    """Translate errors raised by a servicer method into the gRPC status the client sees."""
    protocol = PROTOCOLS.get(handler.__module__, "")
    kind = KINDS.get(handler.__name__, "other")

    @functools.wraps(handler)
    async def wrapped(self: Any, request: Request, context: grpc.aio.ServicerContext) -> Response:
        rid, traceparent = _request_id(context)
        set_trailing = getattr(context, "set_trailing_metadata", None)
        if set_trailing is not None:  # before any abort: abort sends the trailing metadata set by then
            set_trailing((("x-request-id", rid),))
        observation = metrics.begin(protocol, kind, rid)
        observation.traceparent = traceparent
        code = "UNKNOWN"
        try:
            response = await handler(self, request, context)
            code = "OK"
            return response
        except MooringsError as exc:
            # A status, not context.abort: grpcio keeps the AbortError that abort raises on the
            # call's state, whose traceback holds this frame and so the call: a reference cycle
            # per refused call (~50 objects) left to the garbage collector, whose pauses reached
            # 100-180 ms for every call on the server at 3x overload. Dropping the traceback frees
            # the frames it holds at once. The empty message stands in for the response, which
            # grpcio serializes but a client of a failed unary call never sees (the own front end
            # does not serialize it).
            code = exc.grpc_code
            exc.__traceback__ = None
            context.set_code(status_code(exc))
            context.set_details(exc.message)
            return cast(Response, _NO_RESPONSE)
        except grpc.aio.AbortError:
            raise
        except Exception:
            code = "INTERNAL"
            log.exception("unhandled error in %s", handler.__qualname__)
            context.set_code(grpc.StatusCode.INTERNAL)
            context.set_details("internal server error; see the server log")
            return cast(Response, _NO_RESPONSE)
        finally:
            _finish(observation, code, rid)

    return wrapped


StreamHandler = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[None]]


def rpc_stream(handler: StreamHandler) -> StreamHandler:
    """For a streaming method that answers with ``context.write`` and reports errors in its
    responses (KServe's ModelStreamInfer): the request id in the trailing metadata, and the call
    counted once, as route kind "stream", with how it ended (OK, CANCELLED, or INTERNAL when it
    failed unexpectedly: logged, answered without details)."""
    protocol = PROTOCOLS.get(handler.__module__, "")

    @functools.wraps(handler)
    async def wrapped(self: Any, requests: Any, context: grpc.aio.ServicerContext) -> None:
        rid, traceparent = _request_id(context)
        context.set_trailing_metadata((("x-request-id", rid),))
        observation = metrics.begin(protocol, "stream", rid)
        observation.traceparent = traceparent
        code = "UNKNOWN"
        try:
            await handler(self, requests, context)
            code = "OK"
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        except grpc.aio.AbortError:
            raise
        except Exception:
            code = "INTERNAL"
            log.exception("unhandled error in %s", handler.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error; see the server log")
        finally:
            _finish(observation, code, rid)

    return wrapped


def _request_id(context: grpc.aio.ServicerContext) -> tuple[str, bytes | None]:
    """The call's request id, and its W3C ``traceparent`` (None if it has none)."""
    given = traceparent = None
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and isinstance(value, str):
            given = value.encode("ascii", "replace")
        elif key == "traceparent" and isinstance(value, str):
            traceparent = value.encode("ascii", "replace")
    return logs.request_id(given, traceparent), traceparent


def _finish(observation: metrics.Observation, code: str, rid: str) -> None:
    took = metrics.finish(observation, code)
    if tracing.switch.enabled:
        tracing.export(observation, code)
    if logs.access.enabled and observation.protocol:
        servable = observation.servable
        logs.log_access(
            servable.name if servable else "",
            str(servable.version) if servable else "",
            observation.protocol, observation.kind, code, took, rid,
        )  # fmt: skip


def deadline(context: grpc.aio.ServicerContext) -> float | None:
    """The client's deadline as a ``time.monotonic()`` value; DeadlineExceeded if it has passed."""
    remaining: float | None = context.time_remaining()
    if remaining is None:
        return None
    if remaining <= 0:
        raise DeadlineExceeded("the client's deadline passed before the request was run")
    return time.monotonic() + remaining
