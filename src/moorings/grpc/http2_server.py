"""gRPC on Moorings' own HTTP/2 server (``--grpc-server moorings``), in place of grpcio's.

grpcio's server has a large fixed CPU cost per call whatever the method does
(measured by ``benchmarks/protocols/grpc_floor.py``, figures in
``benchmarks/protocols/``). This front end serves the same services: it
takes the handlers that generated ``add_*_to_server`` functions register (it
offers the ``add_generic_rpc_handlers`` / ``add_registered_method_handlers`` /
``add_insecure_port`` / ``start`` / ``stop`` part of ``grpc.aio.Server``),
and runs each unary call as a task on the event loop with a
:class:`~moorings.grpc.context.CallContext`.

What a call gets: request compression (gzip, deflate) undone, ``grpc-timeout``
as the context's deadline (a call still running when it passes is cancelled and
answered DEADLINE_EXCEEDED), a client's cancel reaching the handler as task
cancellation, the message size limit as RESOURCE_EXHAUSTED, an unknown method
as UNIMPLEMENTED. Streaming methods (KServe's ModelStreamInfer) are not served
by this front end: UNIMPLEMENTED as soon as the call's headers arrive. Answers are never
compressed. No TLS, as with grpcio's insecure port.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, NamedTuple

import grpc

from moorings.grpc import wire
from moorings.grpc.context import CallContext
from moorings.grpc.handlers import HandlerCollector
from moorings.http2 import Http2Server, Limits, Stream, listening_socket
from moorings.http2.header_blocks import status

log = logging.getLogger(__name__)


class _CallDetails(NamedTuple):
    """What ``GenericRpcHandler.service`` reads (grpc.HandlerCallDetails)."""

    method: str
    invocation_metadata: Any


class GrpcHttp2Server(HandlerCollector):
    def __init__(self, max_message_bytes: int, reuse_port: bool = False) -> None:
        super().__init__()
        self._max_message = max_message_bytes
        self._reuse_port = reuse_port
        self._sockets: list[Any] = []
        self._server = Http2Server(
            self._on_request, Limits(max_body_bytes=max_message_bytes + 5), on_open=self._on_open
        )
        self._calls: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the rest of the grpc.aio.Server subset (handlers are registered through HandlerCollector)

    def add_insecure_port(self, address: str) -> int:
        """Bind ``host:port`` now; the port (useful with port 0), or 0 if it cannot be bound."""
        host, _, port = address.rpartition(":")
        try:
            sock = listening_socket(host, int(port), self._reuse_port)
        except (OSError, ValueError) as exc:
            log.error("cannot listen for gRPC on %s: %s", address, exc)
            return 0
        self._sockets.append(sock)
        bound: int = sock.getsockname()[1]
        return bound

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.start(self._sockets)

    async def stop(self, grace: float | None) -> None:
        """GOAWAY to every client, let calls under way finish (up to ``grace`` s), then close."""
        await self._server.stop(grace)
        for task in list(self._calls):
            task.cancel()

    # -- calls

    def _method(self, path: str, headers: list[tuple[bytes, bytes]]) -> grpc.RpcMethodHandler | None:
        details = _CallDetails(path, headers)
        for handler in self.handlers:
            method = handler.service(details)
            if method is not None:
                return method
        return None

    def _on_open(self, stream: Stream) -> None:
        """A call whose request is still arriving: a streaming method is refused now, not once the
        client ends its side (a bidirectional client may wait for answers first)."""
        path = stream.header(b":path")
        handler = self._method((path or b"").decode("utf-8", "replace"), stream.headers)
        if handler is not None and (handler.request_streaming or handler.response_streaming):
            stream.respond_headers(wire.trailers_only(grpc.StatusCode.UNIMPLEMENTED, _streaming(path)))

    def _on_request(self, stream: Stream) -> None:
        path = method = content_type = timeout = encoding = None
        for name, value in stream.headers:
            if name == b":path":
                path = value
            elif name == b":method":
                method = value
            elif name == b"content-type":
                content_type = value
            elif name == b"grpc-timeout":
                timeout = value
            elif name == b"grpc-encoding":
                encoding = value
        if method != b"POST":
            stream.respond_headers(status(405))
            return
        if content_type is None or not content_type.startswith(b"application/grpc"):
            stream.respond_headers(status(415))
            return
        try:
            self._start_call(stream, path, timeout, encoding)
        except wire.CallError as exc:
            stream.respond_headers(wire.trailers_only(exc.code, exc.details))

    def _start_call(
        self, stream: Stream, path: bytes | None, timeout: bytes | None, encoding: bytes | None
    ) -> None:
        if stream.oversized:
            raise wire.CallError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the request message is larger than the server's limit of {self._max_message} bytes",
            )
        name = (path or b"").decode("utf-8", "replace")
        handler = self._method(name, stream.headers)
        if handler is None:
            raise wire.CallError(grpc.StatusCode.UNIMPLEMENTED, f"unknown method {name}")
        if handler.request_streaming or handler.response_streaming:
            raise wire.CallError(grpc.StatusCode.UNIMPLEMENTED, _streaming(path))
        raw = wire.request_message(stream.body, encoding, self._max_message)
        stream.body.clear()  # the call has its own copy: do not hold a large message twice
        seconds = None if timeout is None else wire.timeout_seconds(timeout)
        deadline = None if seconds is None else time.monotonic() + seconds
        context = CallContext(deadline, stream.headers, "")
        loop = self._loop
        assert loop is not None
        task = loop.create_task(self._call(stream, handler, raw, context))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        stream.on_reset = task.cancel
        if seconds is not None:
            timer = loop.call_later(seconds, _expire, task, context)
            task.add_done_callback(lambda _: timer.cancel())

    async def _call(
        self, stream: Stream, handler: grpc.RpcMethodHandler, raw: bytes, context: CallContext
    ) -> None:
        try:
            data = await self._run(handler, raw, context)
        except wire.CallError as exc:
            stream.respond_headers(
                wire.trailers_only(exc.code, exc.details) + wire.metadata_fields(context.trailing)
            )
        except asyncio.CancelledError:
            if context.expired:
                stream.respond_headers(
                    wire.trailers_only(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
                )
            # else the client cancelled or disconnected: nobody to answer
        else:
            trailers = wire.OK_TRAILERS
            if context.trailing:
                trailers += wire.metadata_fields(context.trailing)
            stream.respond(wire.RESPONSE_HEADERS, wire.message(data), trailers)

    async def _run(self, handler: grpc.RpcMethodHandler, raw: bytes, context: CallContext) -> bytes:
        """The call's answer message; CallError for any other ending than OK."""
        try:
            request = raw if handler.request_deserializer is None else handler.request_deserializer(raw)
        except Exception:
            raise wire.CallError(
                grpc.StatusCode.INVALID_ARGUMENT, "the request is not a valid message for this method"
            ) from None
        try:
            response = await handler.unary_unary(request, context)
            data: bytes = (
                response if handler.response_serializer is None else handler.response_serializer(response)
            )
        except wire.CallError:
            raise
        except Exception as exc:
            if context.status not in (None, grpc.StatusCode.OK):  # the generated "not implemented" stubs
                raise wire.CallError(context.status, context.details) from None
            log.exception("unhandled error in a gRPC method")
            raise wire.CallError(
                grpc.StatusCode.UNKNOWN, f"the method failed ({type(exc).__name__}); see the server log"
            ) from None
        if context.status not in (None, grpc.StatusCode.OK):
            raise wire.CallError(context.status, context.details)
        if len(data) > self._max_message:
            raise wire.CallError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the response message ({len(data)} bytes) is larger than the server's limit of "
                f"{self._max_message} bytes",
            )
        return data


def _expire(task: asyncio.Task[None], context: CallContext) -> None:
    context.expired = True
    task.cancel()


def _streaming(path: bytes | None) -> str:
    name = (path or b"").decode("utf-8", "replace")
    return (
        f"{name} is a streaming method; Moorings' own gRPC front end serves unary calls "
        "(streams are served with --grpc-server grpcio)"
    )
