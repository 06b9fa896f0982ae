"""Bad input through every protocol: the right status code, a message naming the problem, the server stays up.

Also: a hot swap to a new version while a gRPC client streams Predict calls drops none.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from tests.support import onnx_models
from tests.support.server import RunningServer, running_server

tf = pytest.importorskip("tensorflow")
th = pytest.importorskip("tritonclient.http")
tg = pytest.importorskip("tritonclient.grpc")
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.tensorflow]

X = np.random.default_rng(5).normal(size=(2, 4)).astype(np.float32)
BIG = np.zeros((400_000,), dtype=np.float32)  # 1.6 MB, over the 1 MiB limits below


def _repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("errors") / "repo"
    onnx_models.write_mlp(repo / "mlp" / "1", seed=1)
    onnx_models.write_mlp(repo / "swap" / "1", seed=1)
    onnx_models.write_mlp(repo / "big" / "1", n_in=400_000, hidden=1)
    # its first request waits 200 ms for company: a short deadline surely passes in the queue
    onnx_models.write_mlp(repo / "queued" / "1", seed=1)
    (repo / "queued" / "model.toml").write_text("[batching]\nbatch_timeout_micros = 200000\n")
    return repo


LIMITS = ("--max-grpc-message-mb", "1", "--max-body-mb", "1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(_repository(tmp_path_factory), *LIMITS, tfserving_grpc=True) as running:
        yield running


@pytest.fixture(scope="module")
def h2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The same models behind Moorings' own gRPC front end."""
    repo = _repository(tmp_path_factory)
    with running_server(repo, *LIMITS, "--grpc-server", "moorings", tfserving_grpc=True) as running:
        yield running


@pytest.fixture(scope="module", params=["grpcio", "moorings"])
def grpc_target(request: pytest.FixtureRequest) -> str:
    """The gRPC error tests run against both gRPC front ends."""
    target: str = request.getfixturevalue("server" if request.param == "grpcio" else "h2_server").grpc_target
    return target


@pytest.fixture(scope="module")
def stub(grpc_target: str) -> Iterator[prediction_service_pb2_grpc.PredictionServiceStub]:
    with grpc.insecure_channel(grpc_target) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _predict(model: str, value: np.ndarray, name: str = "x") -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def _grpc_error(call: object, *args: object, **kwargs: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value


STRINGS = np.array([[b"a", b"b", b"c", b"d"]], dtype=object)


@pytest.mark.parametrize(
    ("model", "value", "name", "code", "message"),
    [
        (
            "mlp",
            STRINGS,
            "x",
            grpc.StatusCode.INVALID_ARGUMENT,
            "input 'x' is DT_STRING but the model expects DT_FLOAT",
        ),
        ("mlp", X[:, :3], "x", grpc.StatusCode.INVALID_ARGUMENT, "input 'x' has shape [2, 3]"),
        ("mlp", X, "z", grpc.StatusCode.INVALID_ARGUMENT, "missing input(s) 'x'"),
        ("ghost", X, "x", grpc.StatusCode.NOT_FOUND, "'ghost' is not served"),
        ("../etc", X, "x", grpc.StatusCode.INVALID_ARGUMENT, "invalid model name"),
    ],
)
def test_tfserving_bad_input(
    server: RunningServer,
    stub: prediction_service_pb2_grpc.PredictionServiceStub,
    model: str,
    value: np.ndarray,
    name: str,
    code: grpc.StatusCode,
    message: str,
) -> None:
    error = _grpc_error(stub.Predict, _predict(model, value, name), timeout=10)
    assert error.code() == code
    assert message in error.details()
    assert "/tmp" not in error.details()
    assert stub.Predict(_predict("mlp", X), timeout=10).outputs["probabilities"].tensor_shape.dim[0].size == 2


def test_tfserving_bad_specs(stub: prediction_service_pb2_grpc.PredictionServiceStub) -> None:
    request = _predict("mlp", X)
    request.model_spec.version_label = "stable"
    error = _grpc_error(stub.Predict, request, timeout=10)
    assert error.code() == grpc.StatusCode.NOT_FOUND and "no label 'stable'" in error.details()
    request = _predict("mlp", X)
    request.model_spec.version.value = 7
    error = _grpc_error(stub.Predict, request, timeout=10)
    assert error.code() == grpc.StatusCode.NOT_FOUND and "no version 7" in error.details()
    request = _predict("mlp", X)
    request.model_spec.signature_name = "nope"
    error = _grpc_error(stub.Predict, request, timeout=10)
    assert error.code() == grpc.StatusCode.NOT_FOUND and "no signature 'nope'" in error.details()
    request = _predict("mlp", X)
    request.output_filter.append("logits")
    error = _grpc_error(stub.Predict, request, timeout=10)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "output_filter" in error.details()


def test_oversized_and_deadline_grpc(
    grpc_target: str, stub: prediction_service_pb2_grpc.PredictionServiceStub
) -> None:
    error = _grpc_error(stub.Predict, _predict("big", BIG[None, :]), timeout=10)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than" in error.details()
    error = _grpc_error(stub.Predict, _predict("queued", X), timeout=0.01)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "deadline" in error.details().lower()
    client = tg.InferenceServerClient(grpc_target)
    tensor = tg.InferInput("x", [1, 400_000], "FP32")
    tensor.set_data_from_numpy(BIG[None, :])
    with pytest.raises(InferenceServerException) as info:
        client.infer("big", [tensor])
    assert info.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
    small = tg.InferInput("x", [2, 4], "FP32")
    small.set_data_from_numpy(X)
    with pytest.raises(InferenceServerException) as info:
        client.infer("queued", [small], client_timeout=0.01)
    assert info.value.status() == "StatusCode.DEADLINE_EXCEEDED"
    assert client.infer("mlp", [small]).as_numpy("probabilities").shape == (2, 3)


@pytest.mark.parametrize("protocol", ["http", "grpc", "grpc-moorings"])
def test_kserve_bad_input(server: RunningServer, protocol: str, request: pytest.FixtureRequest) -> None:
    module = th if protocol == "http" else tg
    if protocol == "http":
        url = f"127.0.0.1:{server.rest_port}"
    else:
        url = request.getfixturevalue("server" if protocol == "grpc" else "h2_server").grpc_target
    client = module.InferenceServerClient(url)

    def infer(model: str, name: str, value: np.ndarray, datatype: str) -> str:
        tensor = module.InferInput(name, list(value.shape), datatype)
        tensor.set_data_from_numpy(value)
        with pytest.raises(InferenceServerException) as info:
            client.infer(model, [tensor])
        return str(info.value.message())

    assert "input 'x' is BYTES but the model expects FP32" in infer("mlp", "x", STRINGS, "BYTES")
    assert "input 'x' has shape [2, 3]" in infer("mlp", "x", X[:, :3], "FP32")
    assert "missing input(s) 'x'" in infer("mlp", "y", X, "FP32")
    assert "'ghost' is not served" in infer("ghost", "x", X, "FP32")
    assert "larger than" in infer("big", "x", BIG[None, :], "FP32") or protocol == "http"
    with pytest.raises(InferenceServerException, match="'ghost' is not served"):
        client.get_model_metadata("ghost")
    assert not client.is_model_ready("ghost")
    assert client.is_server_live()


def test_kserve_http_errors_raw(server: RunningServer) -> None:
    url = f"{server.url}/v2/models/mlp/infer"
    cases = [
        (b"{not json", {}, 400, "malformed JSON"),
        (
            b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2]}]}',
            {},
            400,
            "holds 2 values",
        ),
        (
            b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], '
            b'"parameters": {"binary_data_size": 16}}]}',
            {"inference-header-content-length": "104"},
            400,
            "only 0 bytes of binary data",
        ),
        (b"{}", {"inference-header-content-length": "x"}, 400, "must be a number of bytes"),
    ]
    for body, headers, status, message in cases:
        r = httpx.post(url, content=body, headers=headers)
        assert r.status_code == status, (body, r.text)
        assert message in r.json()["error"], (body, r.text)
    r = httpx.post(url, content=b"x" * 2_000_000)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert httpx.get(f"{server.url}/v2/models/ghost").status_code == 404
    assert httpx.get(f"{server.url}/v2/models/mlp/versions/9/ready").status_code == 404
    assert httpx.get(f"{server.url}/v2/models/mlp/infer").status_code == 405
    assert httpx.post(f"{server.url}/v2/models/mlp/bogus").status_code == 404
    assert server.process.poll() is None


class GrpcLoop(threading.Thread):
    """Calls Predict on 'swap' back to back; records failures and the versions that answered."""

    def __init__(self, target: str) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.versions: list[int] = []

    def run(self) -> None:
        with grpc.insecure_channel(self.target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request = _predict("swap", X)
            while not self.stop.is_set():
                try:
                    self.versions.append(stub.Predict(request, timeout=10).model_spec.version.value)
                except grpc.RpcError as exc:
                    self.failures.append(f"{exc.code()}: {exc.details()}")


def test_hot_swap_while_grpc_client_streams(server: RunningServer, tmp_path: Path) -> None:
    model_dir = Path(server.log_path).parent / "repo" / "swap"
    loop = GrpcLoop(server.grpc_target)
    loop.start()
    try:
        time.sleep(0.5)
        staging = model_dir / ".tmp-2"
        shutil.copytree(model_dir / "1", staging)
        onnx_models.write_mlp(staging, seed=2)
        staging.rename(model_dir / "2")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not loop.versions or loop.versions[-1] != 2):
            time.sleep(0.1)
        time.sleep(1.5)  # version 1 is unloaded meanwhile
    finally:
        loop.stop.set()
        loop.join(15)
    assert loop.failures == []
    assert 1 in loop.versions and loop.versions[-1] == 2
    first_two = loop.versions.index(2)
    assert all(v == 2 for v in loop.versions[first_two:])
    assert len(loop.versions) > 20
