"""The gRPC server: extra services, TF Serving on and off, error -> status mapping, limits."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from moorings import errors
from moorings.dataplane import DataPlane
from moorings.grpc.status import status_code
from tests.grpc.conftest import InProcessServer
from tests.support.server import free_port


def test_every_error_maps_to_its_grpc_code() -> None:
    expected = {
        errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
        errors.NotFound: grpc.StatusCode.NOT_FOUND,
        errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
        errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
        errors.PayloadTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
        errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
        errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
        errors.Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
        errors.LoadError: grpc.StatusCode.INTERNAL,
        errors.MooringsError: grpc.StatusCode.INTERNAL,
    }
    for cls, code in expected.items():
        assert status_code(cls("x")) == code


def _echo(server: Any) -> None:
    async def echo(request: bytes, context: object) -> bytes:
        return request[::-1]

    handler = grpc.unary_unary_rpc_method_handler(echo)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", {"Say": handler}),))


def test_extra_services_beside_tf_serving(dataplane: DataPlane, front_end: str) -> None:
    pytest.importorskip("tensorflow_serving")
    server = InProcessServer(dataplane, free_port(), extra=[_echo], front_end=front_end)
    try:
        assert server.tf_serving.error is None
        with grpc.insecure_channel(server.target) as channel:
            assert channel.unary_unary("/test.Echo/Say")(b"abc", timeout=10) == b"cba"
            with pytest.raises(grpc.RpcError) as info:
                channel.unary_unary("/tensorflow.serving.PredictionService/Nope")(b"", timeout=10)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        server.close()


def test_message_limit_is_resource_exhausted(grpc_server: InProcessServer) -> None:
    with grpc.insecure_channel(grpc_server.target) as channel:
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")(b"\x00" * (2 << 20), timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_unparsable_messages_are_invalid_argument(grpc_server: InProcessServer) -> None:
    with grpc.insecure_channel(grpc_server.target) as channel:
        for method in (
            "/tensorflow.serving.PredictionService/Predict",
            "/inference.GRPCInferenceService/ModelInfer",
        ):
            with pytest.raises(grpc.RpcError) as info:
                channel.unary_unary(method)(b"\xff\xff", timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert f"not a valid message for {method}" in info.value.details()


def test_tfserving_grpc_can_be_off(dataplane: DataPlane, front_end: str) -> None:
    server = InProcessServer(dataplane, free_port(), tfserving_grpc=False, front_end=front_end)
    try:
        with grpc.insecure_channel(server.target) as channel:
            with pytest.raises(grpc.RpcError) as info:
                channel.unary_unary("/tensorflow.serving.PredictionService/Predict")(b"", timeout=10)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
            assert "--no-tfserving-grpc" in info.value.details()
            ready = channel.unary_unary("/inference.GRPCInferenceService/ServerLive")(b"", timeout=10)
            assert ready == b"\x08\x01"  # ServerLiveResponse(live=True)
    finally:
        server.close()
