"""A declared shape with a 0 and huge other dimensions ([0, 2^31, 2^31]) is a 400, not a 500.

The same for the ``.npy`` query of a collection search with shape (0, 2^63), which numpy
refuses outright ("Maximum allowed dimension exceeded").

Found by hypothesis on the TensorProto codec (tests/codecs/test_tensor_proto_properties.py):
the element count is 0, so the count check passed, but numpy refuses to shape any array with
dimensions that multiply past its index range (ValueError), which reached the client as 500 /
INTERNAL on V2 REST, V2 gRPC and TF Serving gRPC.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from moorings.protos.tfserving import predict_pb2
from tests.support import onnx_models
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

HUGE = [0, 2**31, 2**31]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("zero-dims")
    onnx_models.write_mlp(root / "repo" / "mlp" / "1")
    with running_server(root / "repo", "--data-dir", str(root / "data")) as running:
        assert httpx.post(f"{running.url}/v1/collections", json={"name": "c", "dim": 4}).status_code == 201
        yield running


def test_v2_rest(server: RunningServer) -> None:
    body = {"inputs": [{"name": "x", "shape": HUGE, "datatype": "FP32", "data": []}]}
    answer = httpx.post(f"{server.url}/v2/models/mlp/infer", json=body)
    assert answer.status_code == 400
    assert "shape [0, 2147483648, 2147483648] has too many elements" in answer.json()["error"]
    empty = {"inputs": [{"name": "x", "shape": [0, 4], "datatype": "FP32", "data": []}]}
    assert httpx.post(f"{server.url}/v2/models/mlp/infer", json=empty).status_code == 200


def test_v2_grpc(server: RunningServer) -> None:
    request = service_pb2.ModelInferRequest(model_name="mlp")
    request.inputs.add(name="x", datatype="FP32", shape=HUGE)
    request.raw_input_contents.append(b"")
    with grpc.insecure_channel(server.grpc_target) as channel, pytest.raises(grpc.RpcError) as caught:
        service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "too many elements" in (caught.value.details() or "")


def test_tfserving_grpc(server: RunningServer) -> None:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mlp"
    tensor = request.inputs["x"]
    tensor.dtype = 1  # DT_FLOAT
    for size in HUGE:
        tensor.tensor_shape.dim.add().size = size
    with grpc.insecure_channel(server.grpc_target) as channel:
        predict = channel.unary_unary(
            "/tensorflow.serving.PredictionService/Predict",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=lambda b: b,
        )
        with pytest.raises(grpc.RpcError) as caught:
            predict(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "too many elements" in (caught.value.details() or "")
    assert "Traceback" not in server.log()


def test_search_npy_query(server: RunningServer) -> None:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9223372036854775808), }"
    header += b" " * (128 - 10 - len(header) - 1) + b"\n"
    body = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    answer = httpx.post(
        f"{server.url}/v1/collections/c:search", content=body, headers={"content-type": "application/x-npy"}
    )
    assert answer.status_code == 400, answer.text
    assert "has too many elements" in answer.json()["error"]
