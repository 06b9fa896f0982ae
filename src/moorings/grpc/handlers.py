"""What a gRPC server keeps of the services registered on it: the handlers, in order."""

from __future__ import annotations

from collections.abc import Sequence

import grpc


class HandlerCollector:
    """Takes what generated ``add_*_to_server`` functions register (the grpc.aio.Server calls they use)."""

    def __init__(self) -> None:
        self.handlers: list[grpc.GenericRpcHandler] = []

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self.handlers.extend(handlers)

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.handlers.append(grpc.method_handlers_generic_handler(service, handlers))
