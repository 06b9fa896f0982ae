"""Stand-ins for protoc's ``*_pb2`` and ``*_pb2_grpc`` modules, built from a DescriptorPool.

:class:`MessageModule` holds the message classes and enums of one ``.proto``
file under their names (``predict_pb2.PredictRequest``), made with
``message_factory.GetMessageClass``. :class:`ServiceModule` holds, for each
service of one file, a ``<Service>Servicer`` base class (every method answers
UNIMPLEMENTED until a subclass overrides it, as ``async def``) and
``add_<Service>Servicer_to_server(servicer, server)``, which registers the
methods with ``grpc.method_handlers_generic_handler`` on anything that has
``add_generic_rpc_handlers`` (grpcio's servers, Moorings' HTTP/2 gRPC server).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper


class _Namespace:
    """Attributes set at construction; a missing one says which module lacks it."""

    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"{self.__name__} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"


class MessageModule(_Namespace):
    """The top-level messages and enums of ``proto_file`` in ``pool``, as a ``*_pb2`` module names them."""

    def __init__(self, pool: descriptor_pool.DescriptorPool, proto_file: str) -> None:
        super().__init__(proto_file)
        self.DESCRIPTOR = pool.FindFileByName(proto_file)
        for name, message in self.DESCRIPTOR.message_types_by_name.items():
            setattr(self, name, message_factory.GetMessageClass(message))
        for name, enum in self.DESCRIPTOR.enum_types_by_name.items():
            setattr(self, name, EnumTypeWrapper(enum))


class ServiceModule(_Namespace):
    """The servicer bases and ``add_*_to_server`` functions of the services in ``proto_file``."""

    def __init__(self, pool: descriptor_pool.DescriptorPool, proto_file: str) -> None:
        super().__init__(proto_file)
        self.DESCRIPTOR = pool.FindFileByName(proto_file)
        for name, service in self.DESCRIPTOR.services_by_name.items():
            setattr(self, f"{name}Servicer", servicer_base(service))
            setattr(self, f"add_{name}Servicer_to_server", adder(service))


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def _unimplemented(method: MethodDescriptor) -> Callable[..., Any]:
    async def call(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{_path(method)} is not implemented")

    call.__name__ = call.__qualname__ = method.name
    return call


def servicer_base(service: ServiceDescriptor) -> type:
    """A class with one ``async`` method per RPC of ``service``, each answering UNIMPLEMENTED."""
    methods = {m.name: _unimplemented(m) for m in service.methods}
    return type(
        f"{service.name}Servicer", (), {"__doc__": f"Base of {service.full_name} servicers.", **methods}
    )


# the grpc handler constructor of each (client streaming, server streaming) kind of method
_HANDLER_KINDS = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def adder(service: ServiceDescriptor) -> Callable[[Any, Any], None]:
    """``add_<Service>Servicer_to_server(servicer, server)`` for ``service``."""

    def add(servicer: Any, server: Any) -> None:
        handlers = {
            m.name: _HANDLER_KINDS[m.client_streaming, m.server_streaming](
                getattr(servicer, m.name),
                request_deserializer=message_factory.GetMessageClass(m.input_type).FromString,
                response_serializer=message_factory.GetMessageClass(m.output_type).SerializeToString,
            )
            for m in service.methods
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))

    add.__name__ = add.__qualname__ = f"add_{service.name}Servicer_to_server"
    return add
