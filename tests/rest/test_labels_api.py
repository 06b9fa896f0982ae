"""Class names through the REST app: top_k on TF Serving :predict, names on :classify, and the
KServe V2 classification extension, against a real ONNX MLP and a real scikit-learn classifier."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from moorings.rest.app import RestApp
from tests.support import onnx_models, sklearn_models
from tests.support.asgi import Response, call, serving_app

MLP_NAMES = ["tabby cat", "beagle", "goldfish"]
IRIS_NAMES = ["setosa", "versicolor", "virginica"]
X = np.random.default_rng(12).normal(size=(3, 4)).astype(np.float32)
IRIS_X = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, onnx_models.Mlp, Any]:
    root = tmp_path_factory.mktemp("labels-repo")
    mlp = onnx_models.write_mlp(root / "mlp" / "1", seed=5)
    (root / "mlp" / "1" / "labels.txt").write_text("\n".join(MLP_NAMES) + "\n")
    onnx_models.write_mlp(root / "nameless" / "1", seed=5)
    onnx_models.write_two_in_two_out(root / "two" / "1")
    onnx_models.write_two_in_two_out(root / "chosen" / "1")
    (root / "chosen" / "model.toml").write_text('[classes]\noutput = "product"\n')
    (root / "chosen" / "1" / "labels.txt").write_text("p0\np1\np2\n")
    iris, _ = sklearn_models.iris_classifier()
    sklearn_models.write_skops(iris, root / "iris" / "1")
    (root / "iris" / "1" / "assets").mkdir()
    (root / "iris" / "1" / "assets" / "labels.json").write_text(orjson.dumps(IRIS_NAMES).decode())
    return root, mlp, iris


@pytest.fixture(scope="module")
def app(repo: tuple[Path, Any, Any]) -> Iterator[RestApp]:
    with serving_app(repo[0]) as app:
        yield app


def post(app: RestApp, path: str, body: Any) -> Response:
    return call(app, "POST", path, json=body)


def _expected(probabilities: np.ndarray, k: int, names: list[str] | None) -> list[list[tuple[str, int]]]:
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[(names[i] if names else str(i), int(i)) for i in row] for row in order]


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_predict_top_k_names_the_classes(app: RestApp, repo: Any, k: int) -> None:
    probabilities = repo[1](X)
    r = post(app, "/v1/models/mlp:predict", {"instances": X.tolist(), "top_k": k})
    assert r.status == 200, r.body
    predictions = r.json()["predictions"]
    assert len(predictions) == len(X)
    for row, want, p in zip(predictions, _expected(probabilities, k, MLP_NAMES), probabilities, strict=True):
        assert [(e["label"], e["index"]) for e in row["top_k"]] == want
        np.testing.assert_allclose(
            [e["confidence"] for e in row["top_k"]], p[[i for _, i in want]], rtol=1e-6
        )
        assert (row["label"], row["index"]) == want[0]
        assert row["confidence"] == row["top_k"][0]["confidence"]


def test_top_k_true_means_five_and_columnar_format_too(app: RestApp, repo: Any) -> None:
    r = post(app, "/v1/models/mlp:predict", {"inputs": X.tolist(), "top_k": True})
    assert r.status == 200, r.body
    outputs = r.json()["outputs"]
    assert [len(row["top_k"]) for row in outputs] == [3, 3, 3]  # five asked, three classes
    assert [row["label"] for row in outputs] == [w[0][0] for w in _expected(repo[1](X), 1, MLP_NAMES)]


def test_top_k_without_labels_answers_indices(app: RestApp, repo: Any) -> None:
    r = post(app, "/v1/models/nameless:predict", {"instances": X.tolist(), "top_k": 2})
    assert r.status == 200, r.body
    got = [[(e["label"], e["index"]) for e in row["top_k"]] for row in r.json()["predictions"]]
    assert got == _expected(repo[1](X), 2, None)


def test_top_k_ranks_the_output_model_toml_names(app: RestApp) -> None:
    a = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    b = np.array([[3.0, 1.0, 0.5]], dtype=np.float32)  # product 3, 2, 1.5; sum 4, 3, 3.5
    r = post(
        app,
        "/v1/models/chosen:predict",
        {"instances": [{"a": a[0].tolist(), "b": b[0].tolist()}], "top_k": 3},
    )
    assert r.status == 200, r.body
    assert [e["index"] for e in r.json()["predictions"][0]["top_k"]] == [0, 1, 2]


@pytest.mark.parametrize(
    ("model", "top_k", "message"),
    [
        ("mlp", 0, "'top_k' must be a positive integer"),
        ("mlp", "3", "'top_k' must be a positive integer"),
        ("mlp", -1, "'top_k' must be a positive integer"),
        ("mlp", 1.5, "'top_k' must be a positive integer"),
        ("two", 3, "name the one to rank in the model's model.toml ([classes] output)"),
    ],
)
def test_bad_top_k_is_a_400(app: RestApp, model: str, top_k: Any, message: str) -> None:
    rows: Any = X.tolist() if model == "mlp" else [{"a": [1, 2, 3], "b": [1, 2, 3]}]
    r = post(app, f"/v1/models/{model}:predict", {"instances": rows, "top_k": top_k})
    assert r.status == 400, r.body
    assert message in r.json()["error"]


def test_classify_answers_with_the_names_of_integer_classes(app: RestApp, repo: Any) -> None:
    r = post(app, "/v1/models/iris:classify", {"examples": [{"input": row} for row in IRIS_X]})
    assert r.status == 200, r.body
    want = repo[2].predict_proba(np.array(IRIS_X))
    for got, p in zip(r.json()["results"], want, strict=True):
        assert [label for label, _ in got] == IRIS_NAMES
        np.testing.assert_allclose([score for _, score in got], p, rtol=1e-9)


def _v2(app: RestApp, model: str, body: dict[str, Any]) -> Response:
    return call(app, "POST", f"/v2/models/{model}/infer", json=body)


def _triton(p: np.ndarray, k: int, names: list[str] | None) -> list[str]:
    out = []
    for row in p:
        for i in np.argsort(-row, kind="stable")[:k]:
            text = f"{float(row[i]):f}:{i}"
            out.append(f"{text}:{names[i]}" if names else text)
    return out


@pytest.mark.parametrize(("model", "names"), [("mlp", MLP_NAMES), ("nameless", None)])
def test_v2_classification_json(app: RestApp, repo: Any, model: str, names: list[str] | None) -> None:
    body = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 4], "data": X.reshape(-1).tolist()}],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}],
    }
    r = _v2(app, model, body)
    assert r.status == 200, r.body
    (output,) = r.json()["outputs"]
    assert output["datatype"] == "BYTES" and output["shape"] == [3, 2]
    assert output["data"] == _triton(repo[1](X), 2, names)


def test_v2_classification_binary_and_beside_a_plain_output(app: RestApp, repo: Any) -> None:
    body = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 4], "data": X.reshape(-1).tolist()}],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 5, "binary_data": True}}],
    }
    r = _v2(app, "mlp", body)
    assert r.status == 200, r.body
    header = orjson.loads(r.body[: r.body.index(b"}]}") + 3])
    (output,) = header["outputs"]
    assert output["shape"] == [3, 3]  # k is cut to the classes there are
    blob = r.body[len(r.body) - output["parameters"]["binary_data_size"] :]
    strings = []
    while blob:
        (n,) = struct.unpack("<I", blob[:4])
        strings.append(blob[4 : 4 + n].decode())
        blob = blob[4 + n :]
    assert strings == _triton(repo[1](X), 3, MLP_NAMES)


def test_v2_classification_of_a_sklearn_classifier(app: RestApp, repo: Any) -> None:
    body = {
        "inputs": [{"name": "input", "datatype": "FP64", "shape": [2, 4], "data": np.ravel(IRIS_X).tolist()}],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 1}}, {"name": "label"}],
    }
    r = _v2(app, "iris", body)
    assert r.status == 200, r.body
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    assert outputs["probabilities"]["data"] == _triton(repo[2].predict_proba(np.array(IRIS_X)), 1, IRIS_NAMES)
    assert outputs["label"]["data"] == repo[2].predict(np.array(IRIS_X)).tolist()


@pytest.mark.parametrize(
    ("k", "output", "message"),  # true is the top_k option's shorthand, not the extension's
    [
        (0, "probabilities", "parameters.classification must be a positive integer"),
        ("2", "probabilities", "parameters.classification must be a positive integer"),
        (True, "probabilities", "parameters.classification must be a positive integer"),
        (10**18, "probabilities", "parameters.classification must be a positive integer (at most 100000)"),
    ],
)
def test_v2_bad_classification_is_a_400(app: RestApp, k: Any, output: str, message: str) -> None:
    body = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}],
        "outputs": [{"name": output, "parameters": {"classification": k}}],
    }
    r = _v2(app, "mlp", body)
    assert r.status == 400, r.body
    assert message in r.json()["error"]


def test_classify_an_onnx_model_with_class_names(app: RestApp, repo: Any) -> None:
    r = post(app, "/v1/models/mlp:classify", {"examples": [{"x": row} for row in X.tolist()]})
    assert r.status == 200, r.body
    for got, p in zip(r.json()["results"], repo[1](X), strict=True):
        assert [label for label, _ in got] == MLP_NAMES
        np.testing.assert_allclose([score for _, score in got], p, rtol=1e-6)


@pytest.mark.parametrize(
    ("model", "examples", "status", "message"),
    [
        ("mlp", [{"y": [1, 2, 3, 4]}], 400, "example 0 lacks feature 'x' (the model takes: x)"),
        ("mlp", [{"x": [1, 2, 3, 4]}, {"x": [1, 2]}], 400, "feature 'x' must hold FP32 values"),
        ("mlp", [{"x": [1, 2, 3]}], 400, "input 'x' has shape [1, 3]"),
        ("nameless", [{"x": [1, 2, 3, 4]}], 501, "the onnx runtime has no classify method"),
    ],
)
def test_classify_an_onnx_model_refuses(
    app: RestApp, model: str, examples: list[Any], status: int, message: str
) -> None:
    r = post(app, f"/v1/models/{model}:classify", {"examples": examples})
    assert r.status == status, r.body
    assert message in r.json()["error"]


def test_v2_names_only_the_output_model_toml_gives_them_to(app: RestApp) -> None:
    a, b = [1.0, 2.0, 3.0], [3.0, 1.0, 0.5]  # product 3, 2, 1.5; sum 4, 3, 3.5
    body = {
        "inputs": [
            {"name": "a", "datatype": "FP32", "shape": [1, 3], "data": a},
            {"name": "b", "datatype": "FP32", "shape": [1, 3], "data": b},
        ],
        "outputs": [
            {"name": "product", "parameters": {"classification": 2}},
            {"name": "sum", "parameters": {"classification": 2}},
        ],
    }
    r = _v2(app, "chosen", body)
    assert r.status == 200, r.body
    outputs = {o["name"]: o["data"] for o in r.json()["outputs"]}
    assert outputs == {"product": ["3.000000:0:p0", "2.000000:1:p1"], "sum": ["4.000000:0", "3.500000:2"]}
