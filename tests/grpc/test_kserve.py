"""KServe V2 gRPC in-process: typed contents and raw contents, FP16, outputs, and errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from tests.grpc.conftest import MLP_NAMES, InProcessServer, X
from tests.support import onnx_models


@pytest.fixture(scope="module")
def stub(grpc_server: InProcessServer) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(grpc_server.target) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def _request(
    model: str, **tensors: tuple[str, list[int], dict[str, list[object]]]
) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name=model)
    for name, (datatype, shape, contents) in tensors.items():
        tensor = request.inputs.add(name=name, datatype=datatype, shape=shape)
        for field, values in contents.items():
            getattr(tensor.contents, field).extend(values)
    return request


def test_typed_contents(
    stub: service_pb2_grpc.GRPCInferenceServiceStub, grpc_repo: tuple[Path, onnx_models.Mlp]
) -> None:
    request = _request("mlp", x=("FP32", [2, 4], {"fp32_contents": X.reshape(-1).tolist()}))
    response = stub.ModelInfer(request, timeout=10)
    assert response.model_name == "mlp" and response.model_version == "1"
    (out,) = response.outputs
    assert out.name == "probabilities" and out.datatype == "FP32" and list(out.shape) == [2, 3]
    got = np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(2, 3)
    np.testing.assert_allclose(got, grpc_repo[1](X), rtol=1e-5)


def test_raw_contents_and_requested_outputs(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 2.0, dtype=np.float32)
    request = service_pb2.ModelInferRequest(model_name="two", id="req-1")
    request.inputs.add(name="a", datatype="FP32", shape=[2, 3])
    request.inputs.add(name="b", datatype="FP32", shape=[2, 3])
    request.raw_input_contents.extend([a.tobytes(), b.tobytes()])
    request.outputs.add(name="product")
    response = stub.ModelInfer(request, timeout=10)
    assert response.id == "req-1"
    assert [o.name for o in response.outputs] == ["product"]
    np.testing.assert_array_equal(
        np.frombuffer(response.raw_output_contents[0], dtype="<f4").reshape(2, 3), a * b
    )


def test_half_precision_raw(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    h = np.array([[0.5, -1.25]], dtype=np.float16)
    request = service_pb2.ModelInferRequest(model_name="half")
    request.inputs.add(name="h", datatype="FP16", shape=[1, 2])
    request.raw_input_contents.append(h.tobytes())
    response = stub.ModelInfer(request, timeout=10)
    assert response.outputs[0].datatype == "FP16"
    np.testing.assert_array_equal(
        np.frombuffer(response.raw_output_contents[0], dtype="<f2"), (h * 2).reshape(-1)
    )


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            _request("mlp", x=("FP32", [2, 4], {"fp32_contents": [1.0] * 3})),
            "INVALID_ARGUMENT",
            "holds 3 values",
        ),
        (
            _request("half", h=("FP16", [1, 2], {})),
            "INVALID_ARGUMENT",
            "FP16 data must be sent in raw_input_contents",
        ),
        (_request("mlp", x=("FP9", [1], {})), "INVALID_ARGUMENT", "unsupported datatype 'FP9'"),
        (_request("mlp", x=("FP32", [-1, 4], {})), "INVALID_ARGUMENT", "negative dimension"),
        (_request("nope", x=("FP32", [1], {"fp32_contents": [1.0]})), "NOT_FOUND", "'nope' is not served"),
        (
            _request("mlp", x=("INT64", [1, 4], {"int64_contents": [1, 2, 3, 4]})),
            "OK",
            "",
        ),  # INT64 -> FP32 is a cast within numbers
        (
            _request("mlp", x=("BYTES", [1, 4], {"bytes_contents": [b"a"] * 4})),
            "INVALID_ARGUMENT",
            "input 'x' is BYTES but the model expects FP32",
        ),
    ],
)
def test_bad_requests(
    stub: service_pb2_grpc.GRPCInferenceServiceStub,
    request_: service_pb2.ModelInferRequest,
    code: str,
    message: str,
) -> None:
    if code == "OK":
        assert stub.ModelInfer(request_, timeout=10).outputs[0].shape == [1, 3]
        return
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(request_, timeout=10)
    assert info.value.code() == grpc.StatusCode[code]
    assert message in info.value.details()


def test_raw_count_must_match(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    request = service_pb2.ModelInferRequest(model_name="two")
    request.inputs.add(name="a", datatype="FP32", shape=[1, 3])
    request.inputs.add(name="b", datatype="FP32", shape=[1, 3])
    request.raw_input_contents.append(b"\x00" * 12)
    with pytest.raises(grpc.RpcError) as info:
        stub.ModelInfer(request, timeout=10)
    assert "raw_input_contents has 1 entries but the request has 2 inputs" in info.value.details()


def test_health_and_metadata(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    assert stub.ServerLive(service_pb2.ServerLiveRequest()).live
    assert stub.ServerReady(service_pb2.ServerReadyRequest()).ready
    assert stub.ModelReady(service_pb2.ModelReadyRequest(name="mlp", version="1")).ready
    assert not stub.ModelReady(service_pb2.ModelReadyRequest(name="mlp", version="3")).ready
    meta = stub.ModelMetadata(service_pb2.ModelMetadataRequest(name="two"))
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [
        ("a", "FP32", [-1, 3]),
        ("b", "FP32", [-1, 3]),
    ]
    assert stub.ServerMetadata(service_pb2.ServerMetadataRequest()).name == "moorings"


def test_stream_infer(
    stub: service_pb2_grpc.GRPCInferenceServiceStub,
    grpc_server: InProcessServer,
    grpc_repo: tuple[Path, onnx_models.Mlp],
) -> None:
    """grpcio: a model that does not stream answers each request of the stream with its one result,
    a failing request with its error_message; Moorings' own front end: UNIMPLEMENTED."""
    request = _request("mlp", x=("FP32", [2, 4], {"fp32_contents": X.reshape(-1).tolist()}))
    missing = _request("nosuchmodel", x=("FP32", [2, 4], {"fp32_contents": X.reshape(-1).tolist()}))
    if grpc_server.front_end == "moorings":
        with pytest.raises(grpc.RpcError) as error:
            list(stub.ModelStreamInfer(iter([request]), timeout=10))
        assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "streaming" in (error.value.details() or "")
    else:
        call = stub.ModelStreamInfer(iter([request, missing, request]), timeout=10)
        first, failed, again = list(call)
        assert dict(call.trailing_metadata() or ()).get("x-request-id")
        for answer in (first, again):
            assert not answer.error_message
            (raw,) = answer.infer_response.raw_output_contents
            got = np.frombuffer(raw, np.float32).reshape(2, 3)
            np.testing.assert_allclose(got, grpc_repo[1](X), rtol=1e-5)
        assert "nosuchmodel" in failed.error_message and not failed.HasField("infer_response")
    assert stub.ModelInfer(request, timeout=10).model_name == "mlp"  # the server keeps serving


def test_duplicate_output_names_are_refused(stub: service_pb2_grpc.GRPCInferenceServiceStub) -> None:
    request = _request("mlp", x=("FP32", [2, 4], {"fp32_contents": X.reshape(-1).tolist()}))
    request.outputs.add(name="probabilities")
    request.outputs.add(name="probabilities")
    with pytest.raises(grpc.RpcError) as error:
        stub.ModelInfer(request, timeout=10)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "more than once" in (error.value.details() or "")


def _triton(p: np.ndarray, k: int, names: list[str] | None) -> list[bytes]:
    """Triton's classification strings, from the reference probabilities."""
    out = []
    for row in p:
        for i in np.argsort(-row, kind="stable")[:k]:
            text = f"{float(row[i]):f}:{i}"
            out.append((f"{text}:{names[i]}" if names else text).encode())
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_the_classification_extension_with_tritonclient(
    grpc_server: InProcessServer, grpc_repo: tuple[Path, onnx_models.Mlp], k: int
) -> None:
    from tritonclient import grpc as tg

    client = tg.InferenceServerClient(grpc_server.target)
    try:
        tensor = tg.InferInput("x", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X)
        result = client.infer(
            "mlp", [tensor], outputs=[tg.InferRequestedOutput("probabilities", class_count=k)]
        )
    finally:
        client.close()
    got = result.as_numpy("probabilities")
    assert got.shape == (len(X), min(k, 3))
    assert got.reshape(-1).tolist() == _triton(grpc_repo[1](X), k, MLP_NAMES)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (0, "int64_param"),
        (-2, "int64_param"),
        ("3", "string_param"),
        (True, "bool_param"),
        (2**62, "int64_param"),
    ],
)
def test_a_bad_classification_count_is_refused(
    stub: service_pb2_grpc.GRPCInferenceServiceStub, value: object, field: str
) -> None:
    request = _request("mlp", x=("FP32", [2, 4], {"fp32_contents": X.reshape(-1).tolist()}))
    output = request.outputs.add(name="probabilities")
    setattr(output.parameters["classification"], field, value)
    with pytest.raises(grpc.RpcError) as error:
        stub.ModelInfer(request, timeout=10)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "parameters.classification must be a positive integer" in (error.value.details() or "")
