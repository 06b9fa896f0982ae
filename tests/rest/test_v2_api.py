"""KServe V2 REST routes, in-process, against ONNX and scikit-learn models (JSON and binary tensors)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from moorings.rest.app import RestApp
from tests.support import onnx_models, sklearn_models
from tests.support.asgi import serving_app

X = np.random.default_rng(11).normal(size=(3, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, onnx_models.Mlp], Any]:
    root = tmp_path_factory.mktemp("v2-repo")
    mlps = {v: onnx_models.write_mlp(root / "mlp" / str(v), seed=v) for v in (1, 2)}
    (root / "mlp" / "model.toml").write_text('[versions]\npolicy = "all"\n[labels]\nstable = 1\n')
    onnx_models.write_int_model(root / "ints" / "1")
    clf, _ = sklearn_models.iris_classifier()
    sklearn_models.write_skops(clf, root / "iris" / "1")
    return root, mlps, clf


@pytest.fixture(scope="module")
def app(repo: tuple[Path, Any, Any]) -> Iterator[RestApp]:
    with serving_app(repo[0]) as app:
        yield app


def request(
    app: RestApp, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.request(method, path, content=body, headers=headers)
            await response.aread()
            return response

    return asyncio.run(go())


def infer_json(app: RestApp, path: str, body: Any) -> httpx.Response:
    return request(app, "POST", path, orjson.dumps(body))


def test_server_and_model_metadata(app: RestApp) -> None:
    assert request(app, "GET", "/v2").json()["extensions"] == ["binary_tensor_data", "classification"]
    assert request(app, "GET", "/v2/health/live").json() == {"live": True}
    meta = request(app, "GET", "/v2/models/iris").json()
    assert meta == {
        "name": "iris",
        "versions": ["1"],
        "platform": "sklearn",
        "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
        ],
    }
    assert request(app, "GET", "/v2/models/mlp/versions/1").json()["versions"] == ["1", "2"]
    assert request(app, "GET", "/v2/models/mlp/ready").json() == {"name": "mlp", "ready": True}
    assert request(app, "GET", "/v2/models/mlp/versions/stable/ready").status_code == 200


@pytest.mark.parametrize(("selector", "version"), [("", 2), ("/versions/1", 1), ("/versions/stable", 1)])
def test_infer_json(app: RestApp, repo: Any, selector: str, version: int) -> None:
    body = {
        "id": "abc",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 4], "data": X.reshape(-1).tolist()}],
    }
    r = infer_json(app, f"/v2/models/mlp{selector}/infer", body)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["model_name"] == "mlp" and answer["model_version"] == str(version) and answer["id"] == "abc"
    (out,) = answer["outputs"]
    assert out["name"] == "probabilities" and out["datatype"] == "FP32" and out["shape"] == [3, 3]
    np.testing.assert_allclose(np.array(out["data"]).reshape(3, 3), repo[1][version](X), rtol=1e-5)


def test_infer_binary_in_and_out(app: RestApp, repo: Any) -> None:
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "datatype": "FP32", "shape": [3, 4], "parameters": {"binary_data_size": 48}}
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    )
    r = request(
        app,
        "POST",
        "/v2/models/mlp/infer",
        header + X.tobytes(),
        {"Inference-Header-Content-Length": str(len(header))},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    size = int(r.headers["inference-header-content-length"])
    answer = orjson.loads(r.content[:size])
    (out,) = answer["outputs"]
    assert out["parameters"] == {"binary_data_size": 36} and "data" not in out
    got = np.frombuffer(r.content[size:], dtype="<f4").reshape(3, 3)
    np.testing.assert_allclose(got, repo[1][2](X), rtol=1e-5)


def test_sklearn_outputs_and_casts(app: RestApp, repo: Any) -> None:
    x = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    body = {
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 4], "data": x}],  # FP32 -> FP64
        "outputs": [{"name": "label"}],
        "parameters": {"binary_data_output": True},
    }
    r = infer_json(app, "/v2/models/iris/infer", body)
    assert r.status_code == 200, r.text
    size = int(r.headers["inference-header-content-length"])
    (out,) = orjson.loads(r.content[:size])["outputs"]
    assert out["name"] == "label" and out["datatype"] == "INT64"
    got = np.frombuffer(r.content[size:], dtype="<i8")
    np.testing.assert_array_equal(got, repo[2].predict(np.array(x, dtype=np.float32).astype(np.float64)))


def test_bytes_input_binary_is_length_prefixed(app: RestApp) -> None:
    blob = struct.pack("<I", 1) + b"a"
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "ids", "datatype": "BYTES", "shape": [1, 1], "parameters": {"binary_data_size": 5}}
            ]
        }
    )
    r = request(
        app,
        "POST",
        "/v2/models/ints/infer",
        header + blob,
        {"Inference-Header-Content-Length": str(len(header))},
    )
    assert r.status_code == 400
    assert "input 'ids' is BYTES but the model expects INT64" in r.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/v2/models/ghost", None, 404, "'ghost' is not served"),
        ("GET", "/v2/models/mlp/versions/7", None, 404, "no version 7"),
        ("GET", "/v2/models/mlp/versions/beta/ready", None, 404, "no label 'beta'"),
        ("GET", "/v2/models/mlp/infer", None, 405, "use POST"),
        ("POST", "/v2/models/mlp", b"{}", 405, "use GET"),
        ("GET", "/v2/models/mlp/nope", None, 404, "no such route"),
        ("GET", "/v2/other", None, 404, "no such route"),
        ("POST", "/v2/models/mlp/infer", b"", 400, "body is empty"),
        ("POST", "/v2/models/mlp/infer", b'{"inputs": 1}', 400, "'inputs' must be a non-empty list"),
        (
            "POST",
            "/v2/models/mlp/infer",
            b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}]}',
            400,
            "input 'x' has shape [1, 3] but the signature expects [-1, 4]",
        ),
        (
            "POST",
            "/v2/models/mlp/infer",
            b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}],'
            b' "outputs": [{"name": "logits"}]}',
            400,
            "unknown output(s) 'logits'",
        ),
        ("GET", "/v2/models/%2e%2e", None, 400, "invalid model name"),
    ],
)
def test_errors(app: RestApp, method: str, path: str, body: bytes | None, status: int, message: str) -> None:
    r = request(app, method, path, body)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


def test_fast_and_general_json_paths_answer_alike(app: RestApp) -> None:
    """Numeric ``data`` takes the C helper; a "data" member elsewhere sends the request the general way."""
    tensor = {"name": "x", "datatype": "FP32", "shape": [3, 4], "data": X.tolist()}
    fast = infer_json(app, "/v2/models/mlp/infer", {"inputs": [tensor]})
    general = infer_json(app, "/v2/models/mlp/infer", {"parameters": {"data": [0]}, "inputs": [tensor]})
    assert fast.status_code == general.status_code == 200
    assert fast.json()["outputs"] == general.json()["outputs"]
    ints = {"name": "x", "datatype": "INT32", "shape": [3, 4], "data": X.tolist()}
    wrong = infer_json(app, "/v2/models/mlp/infer", {"inputs": [ints]})
    assert wrong.status_code == 400 and "non-integers" in wrong.json()["error"]


def test_requests_repeating_a_binary_header_get_their_own_answers(app: RestApp, repo: Any) -> None:
    """The parsed header is shared (see rest/v2_heads.py); each request's tensor bytes are its own."""
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "datatype": "FP32", "shape": [3, 4], "parameters": {"binary_data_size": 48}}
            ]
        }
    )
    for x in (X, X * 2, X[::-1].copy()):
        r = request(
            app,
            "POST",
            "/v2/models/mlp/infer",
            header + x.tobytes(),
            {"Inference-Header-Content-Length": str(len(header))},
        )
        assert r.status_code == 200, r.text
        (out,) = r.json()["outputs"]
        np.testing.assert_allclose(np.array(out["data"]).reshape(3, 3), repo[1][2](x), rtol=1e-5)
    assert len(app.v2_heads) >= 1


def test_an_output_asked_for_twice_is_a_400(app: RestApp) -> None:
    body = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 4], "data": X.reshape(-1).tolist()}],
        "outputs": [{"name": "probabilities"}, {"name": "probabilities"}],
    }
    response = infer_json(app, "/v2/models/mlp/infer", body)
    assert response.status_code == 400
    assert "'probabilities' more than once" in response.json()["error"]


def test_raw_binary_request_of_the_only_input(app: RestApp, repo: tuple[Path, Any, Any]) -> None:
    body = X[:2].tobytes()  # 8 float32 values: shape [2, 4] from the signature's [-1, 4]
    response = request(app, "POST", "/v2/models/mlp/infer", body, {"Inference-Header-Content-Length": "0"})
    assert response.status_code == 200, response.text
    size = int(response.headers["inference-header-content-length"])
    header = orjson.loads(response.content[:size])
    (output,) = header["outputs"]
    assert output["name"] == "probabilities" and output["shape"] == [2, 3]
    assert output["parameters"]["binary_data_size"] == 2 * 3 * 4
    got = np.frombuffer(response.content[size:], dtype="<f4").reshape(2, 3)
    np.testing.assert_allclose(got, repo[1][2](X[:2]), rtol=1e-5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x00" * 7, "7 bytes are not a whole number of FP32 elements"),
        (b"\x00" * 12, "3 FP32 elements do not fit shape [-1, 4]"),
    ],
)
def test_raw_binary_request_that_does_not_fit(app: RestApp, body: bytes, message: str) -> None:
    response = request(app, "POST", "/v2/models/mlp/infer", body, {"Inference-Header-Content-Length": "0"})
    assert response.status_code == 400 and message in response.json()["error"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[1, 2, 3, true]", "input 'x': expected float32 values, got a boolean at [3]"),
        (b"[[1, 2], [3.5e38, 4]]", "input 'x': the value 3.5e+38 at [1, 0] is out of range for float32"),
    ],
)
def test_numbers_that_would_be_read_wrong_are_400s(app: RestApp, data: bytes, message: str) -> None:
    body = b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": %s}]}' % data
    r = request(app, "POST", "/v2/models/mlp/infer", body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]
