"""Failed calls through ``grpc/status.rpc``: their status, and nothing left for the garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import grpc
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from moorings.errors import MooringsError
from tests.grpc.conftest import InProcessServer

#: server-side objects of a failed call that a reference cycle would keep until a collection
_CALL_STATE = ("AbortError", "RPCState", "_ServicerContext", "CallContext")


@pytest.fixture
def stub(grpc_server: InProcessServer) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(grpc_server.target) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def test_a_refused_call_has_its_status_code_and_message(
    stub: service_pb2_grpc.GRPCInferenceServiceStub,
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(service_pb2.ModelInferRequest(model_name="absent"), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "absent" in info.value.details()


def test_failed_calls_leave_no_reference_cycles(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    """Under overload most calls are refused: each used to leave a cycle of ~50 objects (grpcio
    keeps the AbortError of ``context.abort`` on the call's state, and its traceback holds the
    handler's frame), and on grpcio the collections of that garbage stalled every call on the
    server for 100-180 ms at 3x the sustainable rate."""
    request = service_pb2.ModelInferRequest(model_name="absent")
    stub.ServerLive(service_pb2.ServerLiveRequest(), timeout=10)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(50):
            with pytest.raises(grpc.RpcError):
                stub.ModelInfer(request, timeout=10)
        gc.collect()
        left = [
            type(o).__name__
            for o in gc.garbage
            if isinstance(o, MooringsError) or type(o).__name__ in _CALL_STATE
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []
