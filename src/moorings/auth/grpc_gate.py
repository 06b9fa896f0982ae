"""The gRPC check, for both front ends (grpcio and ``--grpc-server moorings``).

:class:`AuthGate` is one generic handler in front of every service's handlers:
a call whose metadata carries no valid token (``authorization: Bearer <token>``
or ``x-api-key``) gets a handler of the method's own kind that answers
UNAUTHENTICATED before the request is parsed. KServe's ``ServerLive`` and
``ServerReady`` answer without one, as the REST health probes do. An unknown
method stays UNIMPLEMENTED.
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


class AuthGate(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(
        self,
        handlers: Sequence[grpc.GenericRpcHandler],
        tokens: TokenFile,
        exempt: frozenset[str] = EXEMPT_METHODS,
    ) -> None:
        self.handlers = list(handlers)
        self.tokens = tokens
        self.exempt = exempt

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        real = None
        for handler in self.handlers:
            real = handler.service(handler_call_details)
            if real is not None:
                break
        if real is None or handler_call_details.method in self.exempt:
            return real
        credential = presented(handler_call_details.invocation_metadata or ())
        if self.tokens.allows(credential.token):
            return real
        return _refusing(real, refusal(credential).message)


def _refusing(real: grpc.RpcMethodHandler, details: str) -> grpc.RpcMethodHandler:
    """A handler of ``real``'s kind that answers UNAUTHENTICATED (the request is not parsed)."""

    async def refuse(request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, details)

    if real.request_streaming and real.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if real.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if real.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)
