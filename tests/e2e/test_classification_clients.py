"""The classification extension and top_k against a real server process, through tritonclient's
own HTTP and gRPC clients (``InferRequestedOutput(name, class_count=k)``) and plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.support import onnx_models, sklearn_models
from tests.support.server import RunningServer, running_server

th = pytest.importorskip("tritonclient.http")
tg = pytest.importorskip("tritonclient.grpc")

pytestmark = pytest.mark.e2e

MLP_NAMES = ["tabby cat", "beagle", "goldfish", "parrot"]
IRIS_NAMES = ["setosa", "versicolor", "virginica"]
X = np.random.default_rng(21).normal(size=(5, 4)).astype(np.float32)
IRIS_X = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, onnx_models.Mlp, Any]:
    root = tmp_path_factory.mktemp("classes") / "repo"
    mlp = onnx_models.write_mlp(root / "mlp" / "1", seed=8, n_out=4)
    (root / "mlp" / "1" / "labels.txt").write_text("\n".join(MLP_NAMES) + "\n")
    iris, _ = sklearn_models.iris_classifier()
    sklearn_models.write_skops(iris, root / "iris" / "1")
    (root / "iris" / "1" / "labels.txt").write_text("\n".join(IRIS_NAMES) + "\n")
    return root, mlp, iris


@pytest.fixture(scope="module", params=["grpcio", "moorings"])
def server(request: pytest.FixtureRequest, repo: tuple[Path, Any, Any]) -> Iterator[RunningServer]:
    with running_server(repo[0], "--grpc-server", request.param, tfserving_grpc=False) as running:
        yield running


def _triton(p: np.ndarray, k: int, names: list[str]) -> list[bytes]:
    out = []
    for row in p:
        for i in np.argsort(-row, kind="stable")[:k]:
            out.append(f"{float(row[i]):f}:{i}:{names[i]}".encode())
    return out


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("k", [1, 3, 9])
def test_tritonclient_http(server: RunningServer, repo: Any, k: int, binary: bool) -> None:
    client = th.InferenceServerClient(f"127.0.0.1:{server.rest_port}")
    try:
        tensor = th.InferInput("x", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=binary)
        wanted = th.InferRequestedOutput("probabilities", binary_data=binary, class_count=k)
        result = client.infer("mlp", [tensor], outputs=[wanted])
    finally:
        client.close()
    got = result.as_numpy("probabilities")
    assert got.shape == (len(X), min(k, 4))
    assert [bytes(v) if not isinstance(v, str) else v.encode() for v in got.reshape(-1)] == _triton(
        repo[1](X), k, MLP_NAMES
    )


def test_tritonclient_grpc_on_a_sklearn_classifier(server: RunningServer, repo: Any) -> None:
    client = tg.InferenceServerClient(server.grpc_target)
    try:
        tensor = tg.InferInput("input", list(IRIS_X.shape), "FP64")
        tensor.set_data_from_numpy(IRIS_X)
        outputs = [tg.InferRequestedOutput("probabilities", class_count=2), tg.InferRequestedOutput("label")]
        result = client.infer("iris", [tensor], outputs=outputs)
    finally:
        client.close()
    assert result.as_numpy("probabilities").reshape(-1).tolist() == _triton(
        repo[2].predict_proba(IRIS_X), 2, IRIS_NAMES
    )
    np.testing.assert_array_equal(result.as_numpy("label"), repo[2].predict(IRIS_X))


def test_top_k_and_classify_over_http(server: RunningServer, repo: Any) -> None:
    r = httpx.post(
        f"{server.url}/v1/models/mlp:predict", json={"instances": X.tolist(), "top_k": 2}, timeout=10
    )
    assert r.status_code == 200, r.text
    want = np.argsort(-repo[1](X), axis=1, kind="stable")[:, :2]
    got = r.json()["predictions"]
    assert [[e["label"] for e in row["top_k"]] for row in got] == [[MLP_NAMES[i] for i in w] for w in want]
    assert [row["label"] for row in got] == [MLP_NAMES[w[0]] for w in want]
    r = httpx.post(
        f"{server.url}/v1/models/iris:classify", json={"examples": [{"input": x} for x in IRIS_X.tolist()]}
    )
    assert r.status_code == 200, r.text
    assert [[name for name, _ in row] for row in r.json()["results"]] == [IRIS_NAMES] * len(IRIS_X)
