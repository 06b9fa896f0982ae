"""A server of ONNX and scikit-learn models serves TF Serving's gRPC API without loading TensorFlow.

The server process is a real ``moorings serve``; whether TensorFlow is in it is
read from ``/proc/PID/maps`` (importing TensorFlow maps its shared libraries,
which live in the ``tensorflow`` package folder). The client is
tensorflow-serving-api's own stub, in this (test) process, which may import TensorFlow.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.support import onnx_models, sklearn_models
from tests.support.server import RunningServer, running_server

tf = pytest.importorskip("tensorflow")
from tensorflow_serving.apis import (  # noqa: E402
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.tensorflow,
    pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc/PID/maps"),
]

X = np.random.default_rng(5).normal(size=(3, 4)).astype(np.float32)
IRIS_X = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])


def _tensorflow_files(pid: int) -> list[str]:
    """The files of the tensorflow package (and any libtensorflow) mapped into process ``pid``."""
    spec = importlib.util.find_spec("tensorflow")
    assert spec is not None and spec.submodule_search_locations
    folders = [str(Path(p).resolve()) + "/" for p in spec.submodule_search_locations]
    mapped = {line.split(maxsplit=5)[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()}
    return sorted(f for f in mapped if f.startswith(tuple(folders)) or "libtensorflow" in f)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, onnx_models.Mlp, object]:
    root = tmp_path_factory.mktemp("no-tf") / "repo"
    mlp = onnx_models.write_mlp(root / "mlp" / "1", seed=6)
    iris, _ = sklearn_models.iris_classifier()
    sklearn_models.write_skops(iris, root / "iris" / "1")
    return root, mlp, iris


@pytest.fixture(scope="module", params=["grpcio", "moorings"])
def server(request: pytest.FixtureRequest, repo: tuple[Path, object, object]) -> Iterator[RunningServer]:
    with running_server(repo[0], "--grpc-server", request.param, tfserving_grpc=True) as running:
        yield running


def test_ready_without_tensorflow_loaded(server: RunningServer) -> None:
    assert _tensorflow_files(server.process.pid) == []
    assert "are not served" not in server.log()


def test_predict_and_status_with_the_real_client(
    server: RunningServer, repo: tuple[Path, onnx_models.Mlp, object]
) -> None:
    _, mlp, iris = repo
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "mlp"
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(X))
        response = stub.Predict(request, timeout=30)
        assert (response.model_spec.name, response.model_spec.version.value) == ("mlp", 1)
        np.testing.assert_allclose(tf.make_ndarray(response.outputs["probabilities"]), mlp(X), rtol=1e-5)

        request = predict_pb2.PredictRequest()
        request.model_spec.name = "iris"
        request.inputs["input"].CopyFrom(tf.make_tensor_proto(IRIS_X))
        response = stub.Predict(request, timeout=30)
        want = iris.predict_proba(IRIS_X)  # type: ignore[attr-defined]
        np.testing.assert_allclose(tf.make_ndarray(response.outputs["probabilities"]), want, rtol=1e-6)

        status_request = get_model_status_pb2.GetModelStatusRequest()
        status_request.model_spec.name = "mlp"
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request, timeout=30)
        assert [(s.version, s.state) for s in status.model_version_status] == [
            (1, get_model_status_pb2.ModelVersionStatus.AVAILABLE)
        ]
    assert _tensorflow_files(server.process.pid) == []
