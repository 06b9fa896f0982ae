"""KServe V2's gRPC messages and service from tritonclient's descriptors, without importing tritonclient.

``tritonclient.grpc.service_pb2`` sits inside ``tritonclient.grpc``, whose
``__init__.py`` imports Triton's whole gRPC client. This module reads the
descriptors out of the installed generated files instead (see
:mod:`moorings.protos.installed`) and exposes ``service_pb2`` (the messages of
``grpc_service.proto``) and ``service_pb2_grpc`` (``GRPCInferenceServiceServicer``
and ``add_GRPCInferenceServiceServicer_to_server``). They are wire-compatible
with tritonclient's, and different Python classes.
"""

from __future__ import annotations

from typing import Any

from moorings.protos.generated import MessageModule, ServiceModule
from moorings.protos.installed import load_pool

ROOT_MODULE = "tritonclient.grpc.service_pb2"
PROTO_FILE = "grpc_service.proto"

pool = load_pool([ROOT_MODULE])
service_pb2 = MessageModule(pool, PROTO_FILE)
# Any: its servicer class is subclassed, and mypy takes a base class only from a type or Any
service_pb2_grpc: Any = ServiceModule(pool, PROTO_FILE)
