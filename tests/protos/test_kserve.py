"""KServe V2's messages and service from tritonclient's descriptors, without importing its client."""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
from tritonclient.grpc import service_pb2 as triton_pb2
from tritonclient.grpc import service_pb2_grpc as triton_grpc

from moorings.protos import kserve
from tests.protos.conftest import aio_server


def test_descriptors_equal_tritonclients_own() -> None:
    assert kserve.service_pb2.DESCRIPTOR.serialized_pb == triton_pb2.DESCRIPTOR.serialized_pb
    nested = kserve.service_pb2.ModelMetadataResponse.TensorMetadata(name="x", datatype="FP32", shape=[-1, 4])
    theirs = triton_pb2.ModelMetadataResponse.TensorMetadata.FromString(nested.SerializeToString())
    assert (theirs.name, list(theirs.shape)) == ("x", [-1, 4])


def test_the_kserve_front_end_does_not_import_tritonclient() -> None:
    code = (
        "import sys\n"
        "import moorings.grpc.kserve\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'tritonclient'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_base_answers_unimplemented_for_unary_and_streaming_methods() -> None:
    base = kserve.service_pb2_grpc.GRPCInferenceServiceServicer()
    with (
        aio_server(
            lambda server: kserve.service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(base, server)
        ) as target,
        grpc.insecure_channel(target) as channel,
    ):
        stub = triton_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.ServerLive(triton_pb2.ServerLiveRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert info.value.details() == "/inference.GRPCInferenceService/ServerLive is not implemented"
        with pytest.raises(grpc.RpcError) as info:
            list(stub.ModelStreamInfer(iter([triton_pb2.ModelInferRequest(model_name="m")]), timeout=10))
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "ModelStreamInfer is not implemented" in info.value.details()
