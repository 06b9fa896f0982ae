"""TF Serving's gRPC API is counted under its own protocol, with gRPC code names and request ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.observe.helpers import scrape, value
from tests.support import onnx_models
from tests.support.server import RunningServer, running_server

tf = pytest.importorskip("tensorflow")
from tensorflow_serving.apis import (  # noqa: E402
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

pytestmark = [pytest.mark.e2e, pytest.mark.tensorflow]

X = np.ones((1, 4), dtype=np.float32)
MLP = {"model": "mlp", "version": "1", "protocol": "tfserving_grpc"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("observe-tfs")
    onnx_models.write_mlp(root / "repo" / "mlp" / "1")
    with running_server(root / "repo", "--data-dir", str(root / "data"), tfserving_grpc=True) as running:
        yield running


def _predict(value_: np.ndarray) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "mlp"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(value_))
    return request


def test_tfserving_grpc_calls_are_counted(server: RunningServer, tmp_path: Path) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        for _ in range(2):
            _, call = predictions.Predict.with_call(
                _predict(X), timeout=30, metadata=(("x-request-id", "tfs-1"),)
            )
            assert ("x-request-id", "tfs-1") in tuple(call.trailing_metadata())
        with pytest.raises(grpc.RpcError) as refused:
            predictions.Predict(_predict(X[:, :3]), timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        status = get_model_status_pb2.GetModelStatusRequest()
        status.model_spec.name = "mlp"
        models.GetModelStatus(status, timeout=30)
    samples = scrape(f"{server.url}/metrics")
    total = "moorings_requests_total"
    assert value(samples, total, **MLP, kind="predict", code="OK") == 2
    # the input did not fit the signature: the version was resolved, so it is named
    assert value(samples, total, **MLP, kind="predict", code="INVALID_ARGUMENT") == 1
    assert value(samples, total, **MLP, kind="status", code="OK") == 1
    assert value(samples, "moorings_request_duration_seconds_count", **MLP, kind="predict") == 3
