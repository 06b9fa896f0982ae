"""TF Serving's gRPC services in-process: half precision, typed fields, metadata, unsupported methods."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.grpc.conftest import MLP_NAMES, InProcessServer, X
from tests.support import onnx_models

tf = pytest.importorskip("tensorflow")
from tensorflow_serving.apis import (  # noqa: E402
    classification_pb2,
    get_model_metadata_pb2,
    inference_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def stub(grpc_server: InProcessServer) -> Iterator[prediction_service_pb2_grpc.PredictionServiceStub]:
    with grpc.insecure_channel(grpc_server.target) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _fails(call: object, request: object, code: grpc.StatusCode, message: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)  # type: ignore[operator]
    assert info.value.code() == code
    assert message in info.value.details()


def test_half_precision_in_half_val(stub: prediction_service_pb2_grpc.PredictionServiceStub) -> None:
    h = np.array([[0.5, -1.25], [3.0, 0.0]], dtype=np.float16)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "half"
    proto = request.inputs["h"]
    proto.dtype = tf.float16.as_datatype_enum
    for size in h.shape:
        proto.tensor_shape.dim.add().size = size
    proto.half_val.extend(h.view(np.uint16).reshape(-1).tolist())
    response = stub.Predict(request, timeout=10)
    out = tf.make_ndarray(response.outputs["doubled"])
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, h * 2)


def test_scalar_broadcast_and_int_to_float(
    stub: prediction_service_pb2_grpc.PredictionServiceStub, grpc_repo: tuple[Path, onnx_models.Mlp]
) -> None:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mlp"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(3, shape=[2, 4], dtype=tf.int32))  # one int_val
    response = stub.Predict(request, timeout=10)
    np.testing.assert_allclose(
        tf.make_ndarray(response.outputs["probabilities"]), grpc_repo[1](np.full((2, 4), 3.0)), rtol=1e-5
    )
    # as TF Serving writes them: clients that read float_val directly get the values
    probabilities = response.outputs["probabilities"]
    assert not probabilities.tensor_content and len(probabilities.float_val) == 6
    np.testing.assert_allclose(
        np.array(probabilities.float_val).reshape(2, 3), grpc_repo[1](np.full((2, 4), 3.0)), rtol=1e-5
    )


def test_metadata_field_must_be_signature_def(
    stub: prediction_service_pb2_grpc.PredictionServiceStub,
) -> None:
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "mlp"
    _fails(stub.GetModelMetadata, request, grpc.StatusCode.INVALID_ARGUMENT, "metadata_field must be")
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=10)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert signatures.signature_def["serving_default"].inputs["x"].dtype == tf.float32.as_datatype_enum


def test_classify_an_onnx_model_with_class_names(
    stub: prediction_service_pb2_grpc.PredictionServiceStub, grpc_repo: tuple[Path, onnx_models.Mlp]
) -> None:
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "mlp"
    for row in X:
        example = classify.input.example_list.examples.add()
        example.features.feature["x"].float_list.value.extend(row.tolist())
    response = stub.Classify(classify, timeout=10)
    want = grpc_repo[1](X)
    for got, p in zip(response.result.classifications, want, strict=True):
        assert [c.label for c in got.classes] == MLP_NAMES
        np.testing.assert_allclose([c.score for c in got.classes], p, rtol=1e-6)


def test_unsupported_methods(stub: prediction_service_pb2_grpc.PredictionServiceStub) -> None:
    example = tf.train.Example()
    example.features.feature["x"].float_list.value.extend(X[0].tolist())
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "two"  # "mlp" classifies: it has class names (labels.txt)
    two = tf.train.Example()
    for name in ("a", "b"):
        two.features.feature[name].float_list.value.extend([1.0, 2.0, 3.0])
    classify.input.example_list.examples.append(two)
    _fails(stub.Classify, classify, grpc.StatusCode.UNIMPLEMENTED, "no classify method")
    empty = classification_pb2.ClassificationRequest()
    empty.model_spec.name = "mlp"
    _fails(stub.Classify, empty, grpc.StatusCode.INVALID_ARGUMENT, "example_list")
    multi = inference_pb2.MultiInferenceRequest()
    task = multi.tasks.add()
    task.model_spec.name = "mlp"
    task.method_name = "tensorflow/serving/predict"
    multi.input.example_list.examples.append(example)
    _fails(stub.MultiInference, multi, grpc.StatusCode.UNIMPLEMENTED, "is not supported")
    nameless = predict_pb2.PredictRequest()
    _fails(stub.Predict, nameless, grpc.StatusCode.INVALID_ARGUMENT, "model_spec.name is empty")
