"""The gRPC checks, for both front ends (grpcio and ``--grpc-server moorings``).

:class:`Gate` is one generic handler in front of every service's handlers:

- with a token file, a call whose metadata carries no valid token
  (``authorization: Bearer <token>`` or ``x-api-key``) gets a handler of the
  method's own kind that answers UNAUTHENTICATED before the request is parsed;
  KServe's ``ServerLive`` and ``ServerReady`` answer without one, as the REST
  health probes do;
- with ``read_only`` (``--read-only-data-plane``), the collection writes of the
  search service answer PERMISSION_DENIED, saying where to make them.

An unknown method stays UNIMPLEMENTED.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from moorings.auth.credentials import presented, refusal
from moorings.auth.tokens import TokenFile

EXEMPT_METHODS = frozenset(
    {"/inference.GRPCInferenceService/ServerLive", "/inference.GRPCInferenceService/ServerReady"}
)
_SEARCH = "/moorings.search.v1.CollectionService/"
WRITE_METHODS = frozenset(_SEARCH + m for m in ("CreateCollection", "DropCollection", "Upsert", "Delete"))


class Gate(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(
        self,
        handlers: Sequence[grpc.GenericRpcHandler],
        tokens: TokenFile | None,
        read_only: str | None = None,
        exempt: frozenset[str] = EXEMPT_METHODS,
    ) -> None:
        self.handlers = list(handlers)
        self.tokens = tokens
        self.read_only = read_only
        self.exempt = exempt

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        real = None
        for handler in self.handlers:
            real = handler.service(handler_call_details)
            if real is not None:
                break
        method = handler_call_details.method
        if real is None or method in self.exempt:
            return real
        if self.tokens is not None:
            credential = presented(handler_call_details.invocation_metadata or ())
            if not self.tokens.allows(credential.token):
                return _refusing(real, grpc.StatusCode.UNAUTHENTICATED, refusal(credential).message)
        if self.read_only is not None and method in WRITE_METHODS:
            message = f"collection writes are not served on this port: {self.read_only}"
            return _refusing(real, grpc.StatusCode.PERMISSION_DENIED, message)
        return real


def _refusing(real: grpc.RpcMethodHandler, code: grpc.StatusCode, details: str) -> grpc.RpcMethodHandler:
    """A handler of ``real``'s kind that answers ``code`` (the request is not parsed).

    It sets the status rather than calling ``context.abort``, whose exception grpcio keeps in a
    reference cycle with the call: a flood of refused calls would become garbage-collector pauses
    for every call (see ``grpc/status.rpc``). The empty answer of a unary call is never sent.
    """

    async def refuse_stream(request: Any, context: Any) -> None:
        context.set_code(code)
        context.set_details(details)

    async def refuse(request: Any, context: Any) -> bytes:
        await refuse_stream(request, context)
        return b""

    if real.request_streaming and real.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse_stream)
    if real.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if real.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse_stream)
    return grpc.unary_unary_rpc_method_handler(refuse)
