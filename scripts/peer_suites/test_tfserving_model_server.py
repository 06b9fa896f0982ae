"""TF Serving's model-server cases, re-created against a running Moorings server.

TF Serving's ``tensorflow_model_server_test.py`` starts its own binary for each
case; these send the same requests to Moorings and expect the same answers
(the requests and expected answers are facts taken from that test). The
repository is ``build_repository.py``'s ``tfserving`` folder: TF Serving's test
models ``saved_model_half_plus_two_cpu`` (as ``default`` and ``half_plus_two``),
``saved_model_half_plus_three`` and ``saved_model_half_plus_two_tf2_cpu`` (as
``half_plus_two_tf2``), version 123 each, and the two models the
``test_tf_saved_model_save*`` cases write.

Environment: ``MOORINGS_REST`` and ``MOORINGS_GRPC`` (``host:port``), and
``TFS_TESTDATA`` (TF Serving's testdata folder, for the expected metadata JSON).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

REST = os.environ.get("MOORINGS_REST", "127.0.0.1:8501")
GRPC = os.environ.get("MOORINGS_GRPC", "127.0.0.1:8500")
TESTDATA = os.environ.get("TFS_TESTDATA", "")
RPC_TIMEOUT = 5.0  # TF Serving's test uses 5 s
VERSION = 123


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(GRPC) as ch:
        yield ch


@pytest.fixture(scope="module")
def prediction(channel: grpc.Channel) -> prediction_service_pb2_grpc.PredictionServiceStub:
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def call_rest(path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{REST}{path}", data=data)
    with urllib.request.urlopen(request, timeout=RPC_TIMEOUT) as answer:
        return json.loads(answer.read().decode())


def sorted_object(obj: Any) -> Any:
    """Nested lists and dicts in a canonical order (TF Serving's test compares metadata this way)."""
    if isinstance(obj, dict):
        return sorted((k, sorted_object(v)) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return sorted(sorted_object(x) for x in obj)
    return obj


def verify_model_spec(spec: Any, name: str, signature: str, version: int) -> None:
    assert spec.name == name
    assert spec.signature_name == signature
    assert spec.version.value == version


def verify_predict(
    stub: prediction_service_pb2_grpc.PredictionServiceStub,
    expected_output: float,
    model_name: str = "default",
    specify_output: bool = True,
    signature_name: str = "serving_default",
) -> None:
    """TF Serving's VerifyPredictRequest: x = [2.0] (shape [1]) as float_val."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.append(2.0)
    request.inputs["x"].tensor_shape.dim.add().size = 1
    if specify_output:
        request.output_filter.append("y")
    result = stub.Predict(request, RPC_TIMEOUT)
    assert "y" in result.outputs
    assert result.outputs["y"].dtype == types_pb2.DT_FLOAT
    assert len(result.outputs["y"].float_val) == 1
    assert result.outputs["y"].float_val[0] == expected_output
    verify_model_spec(result.model_spec, model_name, signature_name, VERSION)


def test_get_model_status(channel: grpc.Channel) -> None:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "default"
    result = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, RPC_TIMEOUT)
    assert len(result.model_version_status) == 1
    assert result.model_version_status[0].version == VERSION
    assert result.model_version_status[0].status.error_code == 0


def test_get_model_metadata(prediction: prediction_service_pb2_grpc.PredictionServiceStub) -> None:
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "default"
    request.metadata_field.append("signature_def")
    result = prediction.GetModelMetadata(request, RPC_TIMEOUT)
    assert result.model_spec.name == "default"
    assert result.model_spec.version.value == VERSION
    assert len(result.metadata) == 1
    assert "signature_def" in result.metadata


@pytest.mark.parametrize("model", ["default", "half_plus_two_tf2"], ids=["tf1", "tf2"])
def test_classify(prediction: prediction_service_pb2_grpc.PredictionServiceStub, model: str) -> None:
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "classify_x_to_y"
    request.input.example_list.examples.add().features.feature["x"].float_list.value.extend([2.0])
    result = prediction.Classify(request, RPC_TIMEOUT)
    assert len(result.result.classifications) == 1
    assert len(result.result.classifications[0].classes) == 1
    assert result.result.classifications[0].classes[0].score == 3.0
    verify_model_spec(result.model_spec, model, "classify_x_to_y", VERSION)


@pytest.mark.parametrize("model", ["default", "half_plus_two_tf2"], ids=["tf1", "tf2"])
def test_regress(prediction: prediction_service_pb2_grpc.PredictionServiceStub, model: str) -> None:
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "regress_x_to_y"
    request.input.example_list.examples.add().features.feature["x"].float_list.value.extend([2.0])
    result = prediction.Regress(request, RPC_TIMEOUT)
    assert len(result.result.regressions) == 1
    assert result.result.regressions[0].value == 3.0
    verify_model_spec(result.model_spec, model, "regress_x_to_y", VERSION)


@pytest.mark.parametrize("model", ["default", "half_plus_two_tf2"], ids=["tf1", "tf2"])
def test_multi_inference(prediction: prediction_service_pb2_grpc.PredictionServiceStub, model: str) -> None:
    request = inference_pb2.MultiInferenceRequest()
    request.tasks.add().model_spec.name = model
    request.tasks[0].model_spec.signature_name = "regress_x_to_y"
    request.tasks[0].method_name = "tensorflow/serving/regress"
    request.tasks.add().model_spec.name = model
    request.tasks[1].model_spec.signature_name = "classify_x_to_y"
    request.tasks[1].method_name = "tensorflow/serving/classify"
    request.input.example_list.examples.add().features.feature["x"].float_list.value.extend([2.0])
    result = prediction.MultiInference(request, RPC_TIMEOUT)
    assert len(result.results) == 2
    assert result.results[0].regression_result.regressions[0].value == 3.0
    assert result.results[1].classification_result.classifications[0].classes[0].score == 3.0
    for i in range(2):
        verify_model_spec(
            result.results[i].model_spec, model, request.tasks[i].model_spec.signature_name, VERSION
        )


def test_predict_saved_model(prediction: prediction_service_pb2_grpc.PredictionServiceStub) -> None:
    verify_predict(prediction, 3.0)
    verify_predict(prediction, 3.0, specify_output=False)


def test_good_model_config(prediction: prediction_service_pb2_grpc.PredictionServiceStub) -> None:
    """Two models served side by side (TF Serving reads them from a model config file)."""
    verify_predict(prediction, 3.0, model_name="half_plus_two")
    verify_predict(prediction, 3.0, model_name="half_plus_two", specify_output=False)
    verify_predict(prediction, 4.0, model_name="half_plus_three")
    verify_predict(prediction, 4.0, model_name="half_plus_three", specify_output=False)


def test_tf_saved_model_save(prediction: prediction_service_pb2_grpc.PredictionServiceStub) -> None:
    """A tf.Module saved with tf.saved_model.save: y = 3 * 2 * x, input shape unknown."""
    verify_predict(prediction, 12.0, model_name="tf_saved_model_save", specify_output=False)


def test_tf_saved_model_save_multiple_signatures(
    prediction: prediction_service_pb2_grpc.PredictionServiceStub,
) -> None:
    """serving_default answers y = 1, custom_signature_key y = 2."""
    name = "tf_saved_model_save_multiple_signatures"
    verify_predict(prediction, 2.0, model_name=name, signature_name="custom_signature_key")
    verify_predict(prediction, 1.0, model_name=name)


def test_classify_rest() -> None:
    body = {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]}
    assert call_rest("/v1/models/default:classify", body) == {"results": [[["", 3.0]]]}


def test_regress_rest() -> None:
    body = {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]}
    assert call_rest("/v1/models/default:regress", body) == {"results": [3.0]}


def test_predict_rest() -> None:
    assert call_rest("/v1/models/default:predict", {"instances": [2.0, 3.0, 4.0]}) == {
        "predictions": [3.0, 3.5, 4.0]
    }


def test_predict_columnar_rest() -> None:
    assert call_rest("/v1/models/default:predict", {"inputs": [2.0, 3.0, 4.0]}) == {
        "outputs": [3.0, 3.5, 4.0]
    }


def test_get_status_rest() -> None:
    assert call_rest("/v1/models/default") == {
        "model_version_status": [
            {"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }


def test_get_model_metadata_rest() -> None:
    expected_file = Path(TESTDATA) / "half_plus_two_model_metadata.json"
    if not TESTDATA or not expected_file.exists():
        pytest.skip("TFS_TESTDATA does not hold half_plus_two_model_metadata.json")
    expected = json.loads(expected_file.read_text())
    assert sorted_object(call_rest("/v1/models/default/metadata")) == sorted_object(expected)


def test_prometheus_endpoint() -> None:
    """TF Serving serves metrics at this path when a monitoring config enables it."""
    request = urllib.request.Request(f"http://{REST}/monitoring/prometheus/metrics")
    with urllib.request.urlopen(request, timeout=RPC_TIMEOUT) as answer:
        assert "# TYPE" in answer.read().decode()
