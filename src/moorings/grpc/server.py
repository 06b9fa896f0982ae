"""Build the grpc.aio server that speaks TensorFlow Serving's and KServe V2's gRPC APIs.

Usage (inside a running event loop)::

    server, tf_serving = build_grpc_server(dataplane, settings, extra_services=[my_service.register])
    await server.start()

``extra_services`` lets other parts of Moorings add their own gRPC services:
each is a callable taking the ``grpc.aio.Server`` before it starts, typically a
generated ``add_XServicer_to_server`` bound to a servicer, e.g.
``functools.partial(search_pb2_grpc.add_SearchServicer_to_server, SearchServicer(...))``.

Both protocols' services are :class:`ProtoServices` handlers, loaded while the
server is built. TF Serving's messages are made from the descriptors the
installed tensorflow-serving-api package carries (:mod:`moorings.protos.tfserving`),
so loading them does not import TensorFlow. When they cannot be loaded (the
package is not installed), or with ``settings.tfserving_grpc`` off
(``--no-tfserving-grpc``), those services answer UNIMPLEMENTED with the reason,
logged once at start-up.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from moorings.auth.grpc_gate import Gate
from moorings.auth.tokens import TokenFile
from moorings.config import ServerSettings
from moorings.dataplane import DataPlane
from moorings.grpc.drain import GrpcioServer
from moorings.grpc.handlers import HandlerCollector
from moorings.grpc.http2_server import GrpcHttp2Server

log = logging.getLogger(__name__)

AddService = Callable[[Any], None]  # given the server (grpc.aio.Server or GrpcHttp2Server) before it starts
TF_SERVING_SERVICES = frozenset({"tensorflow.serving.PredictionService", "tensorflow.serving.ModelService"})
TF_SERVING_MODULE = "moorings.grpc.tfserving"
KSERVE_SERVICES = frozenset({"inference.GRPCInferenceService"})
KSERVE_MODULE = "moorings.grpc.kserve"


class ProtoServices(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Generated services behind one handler that parses requests itself.

    ``load()`` runs ``register(dataplane, server)`` of ``module``, which adds
    the services (a generated ``add_*_to_server``); if that fails, ``error``
    says why and every call of the services answers UNIMPLEMENTED with it. A
    request that is not a valid message gets INVALID_ARGUMENT (grpcio itself
    would answer UNKNOWN).
    """

    def __init__(self, services: frozenset[str], module: str, dataplane: DataPlane) -> None:
        self.services = services
        self.module = module
        self.dataplane = dataplane
        self.error: str | None = None
        self._handlers: list[grpc.GenericRpcHandler] = []
        self._methods: dict[str, grpc.RpcMethodHandler] = {}

    def load(self) -> None:
        if self.error is not None:  # disabled
            return
        try:
            collector = HandlerCollector()
            importlib.import_module(self.module).register(self.dataplane, collector)
            self._handlers = collector.handlers
            log.info("gRPC services ready: %s", ", ".join(sorted(self.services)))
        except Exception as exc:  # a missing optional package: the rest of the server still runs
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("%s are not served: %s", ", ".join(sorted(self.services)), self.error)

    def _method(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        """The wrapped handler of a method (cached)."""
        method: str = details.method
        wrapped = self._methods.get(method)
        if wrapped is None:
            for handler in self._handlers:
                real = handler.service(details)
                if real is not None:  # only real methods are cached: clients choose the names
                    wrapped = self._methods[method] = _parsing(real, method)
                    break
        return wrapped

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method
        if method.split("/")[1:2] and method.split("/")[1] not in self.services:
            return None
        if self.error is not None:
            return grpc.unary_unary_rpc_method_handler(self._refuse)
        return self._method(handler_call_details)

    async def _refuse(self, raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """The services are off or could not be loaded: say why."""
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, self.error)
        return b""


def _parsing(real: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """A raw-bytes handler around a generated unary one: parse, call, serialize.

    A streaming method (KServe's ModelStreamInfer) is served as generated on grpcio; Moorings'
    own HTTP/2 front end answers it UNIMPLEMENTED (``grpc/http2_server.py``)."""
    if real.request_streaming or real.response_streaming:
        return real
    parse, behaviour, serialize = real.request_deserializer, real.unary_unary, real.response_serializer

    async def call(raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            request = parse(raw)
        except Exception:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"the request is not a valid message for {method}"
            )
        serialized: bytes = serialize(await behaviour(request, context))
        return serialized

    return grpc.unary_unary_rpc_method_handler(call)


def grpc_options(settings: ServerSettings) -> list[tuple[str, int]]:
    size = settings.max_grpc_message_bytes
    return [
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", size),
        ("grpc.so_reuseport", 1 if settings.reuse_port else 0),
    ]


def build_grpc_server(
    dataplane: DataPlane,
    settings: ServerSettings,
    extra_services: Sequence[AddService] = (),
    auth: TokenFile | None = None,
    read_only: str | None = None,
) -> tuple[Any, ProtoServices]:
    """The server bound to ``settings.host:settings.grpc_port`` but not started, and the TF Serving handler.

    The server is grpcio's, or Moorings' own with ``settings.grpc_server == "moorings"``.
    With ``auth`` (tokens) or ``read_only`` (where collection writes go instead), every service sits
    behind one :class:`~moorings.auth.grpc_gate.Gate`.

    Call inside the event loop that will run it.
    """
    kserve = ProtoServices(KSERVE_SERVICES, KSERVE_MODULE, dataplane)
    kserve.load()
    tf_serving = ProtoServices(TF_SERVING_SERVICES, TF_SERVING_MODULE, dataplane)
    if not settings.tfserving_grpc:
        tf_serving.error = "TF Serving's gRPC API is off on this server (--no-tfserving-grpc)"
    tf_serving.load()
    server: Any
    if settings.grpc_server == "moorings":
        server = GrpcHttp2Server(settings.max_grpc_message_bytes, reuse_port=settings.reuse_port)
    else:
        server = GrpcioServer(grpc_options(settings))
    if auth is None and read_only is None:
        for add in extra_services:
            add(server)
        server.add_generic_rpc_handlers((kserve, tf_serving))
    else:
        collected = HandlerCollector()
        for add in extra_services:
            add(collected)
        server.add_generic_rpc_handlers((Gate([*collected.handlers, kserve, tf_serving], auth, read_only),))
    address = f"{settings.host}:{settings.grpc_port}"
    if server.add_insecure_port(address) == 0:
        raise OSError(f"could not listen for gRPC on {address}")
    return server, tf_serving
