"""TensorFlow Serving's REST API, in-process, against ONNX and scikit-learn models."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from moorings.rest.app import RestApp
from tests.support import onnx_models, sklearn_models
from tests.support.asgi import Response, call, serving_app


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    onnx_models.write_mlp(root / "mlp" / "1", seed=1)
    onnx_models.write_mlp(root / "mlp" / "2", seed=2)
    (root / "mlp" / "model.toml").write_text('[versions]\npolicy = "all"\n[labels]\nstable = 1\n')
    onnx_models.write_two_in_two_out(root / "two" / "1")
    onnx_models.write_int_model(root / "ints" / "1")
    onnx_models.write_half_plus_two(root / "half_plus_two" / "1")
    clf, _ = sklearn_models.iris_classifier()
    sklearn_models.write_skops(clf, root / "iris" / "1")
    reg, _ = sklearn_models.diabetes_regressor()
    sklearn_models.write_skops(reg, root / "diabetes" / "1")
    return root


@pytest.fixture(scope="module")
def app(repo: Path) -> Iterator[RestApp]:
    with serving_app(repo) as app:
        yield app


def get(app: RestApp, path: str) -> Response:
    return call(app, "GET", path)


def post(app: RestApp, path: str, body: object) -> Response:
    return call(app, "POST", path, json=body)


def test_status_shape(app: RestApp) -> None:
    r = get(app, "/v1/models/mlp")
    assert r.status == 200
    assert r.json() == {
        "model_version_status": [
            {"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
        ]
    }
    assert [s["version"] for s in get(app, "/v1/models/mlp/versions/1").json()["model_version_status"]] == [
        "1"
    ]
    assert [
        s["version"] for s in get(app, "/v1/models/mlp/labels/stable").json()["model_version_status"]
    ] == ["1"]


def test_metadata_shape(app: RestApp) -> None:
    r = get(app, "/v1/models/mlp/versions/2/metadata")
    assert r.status == 200
    body = r.json()
    assert body["model_spec"] == {"name": "mlp", "signature_name": "", "version": "2"}
    sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert sig["inputs"]["x"] == {
        "dtype": "DT_FLOAT",
        "tensor_shape": {
            "dim": [{"size": "-1", "name": ""}, {"size": "4", "name": ""}],
            "unknown_rank": False,
        },
        "name": "x",
    }
    assert sig["outputs"]["probabilities"]["dtype"] == "DT_FLOAT"


def test_predict_row_and_columnar_match_the_model(app: RestApp, repo: Path) -> None:
    x = np.random.default_rng(3).normal(size=(3, 4)).astype(np.float32)
    expected = onnx_models.write_mlp(repo / ".scratch", seed=2)(x)
    rows = post(app, "/v1/models/mlp:predict", {"instances": x.tolist()})
    assert rows.status == 200
    np.testing.assert_allclose(rows.json()["predictions"], expected, rtol=1e-5)
    columns = post(app, "/v1/models/mlp:predict", {"inputs": {"x": x.tolist()}})
    np.testing.assert_allclose(columns.json()["outputs"], expected, rtol=1e-5)
    named_rows = post(app, "/v1/models/mlp:predict", {"instances": [{"x": row} for row in x.tolist()]})
    np.testing.assert_allclose(named_rows.json()["predictions"], expected, rtol=1e-5)


def test_versions_and_labels_route_to_their_version(app: RestApp, repo: Path) -> None:
    x = np.ones((1, 4), np.float32)
    v1 = onnx_models.write_mlp(repo / ".scratch1", seed=1)(x)
    for path in ("/v1/models/mlp/versions/1:predict", "/v1/models/mlp/labels/stable:predict"):
        np.testing.assert_allclose(
            post(app, path, {"instances": x.tolist()}).json()["predictions"], v1, rtol=1e-5
        )


def test_multi_input_multi_output(app: RestApp) -> None:
    a, b = [[1, 2, 3], [4, 5, 6]], [[1, 1, 1], [2, 2, 2]]
    rows = post(
        app, "/v1/models/two:predict", {"instances": [{"a": a[0], "b": b[0]}, {"a": a[1], "b": b[1]}]}
    )
    assert rows.json() == {
        "predictions": [
            {"sum": [2.0, 3.0, 4.0], "product": [1.0, 2.0, 3.0]},
            {"sum": [6.0, 7.0, 8.0], "product": [8.0, 10.0, 12.0]},
        ]
    }
    columns = post(app, "/v1/models/two:predict", {"inputs": {"a": a, "b": b}})
    assert columns.json() == {
        "outputs": {
            "sum": [[2.0, 3.0, 4.0], [6.0, 7.0, 8.0]],
            "product": [[1.0, 2.0, 3.0], [8.0, 10.0, 12.0]],
        }
    }


def test_integer_model(app: RestApp) -> None:
    r = post(app, "/v1/models/ints:predict", {"instances": [[1, 2], [3, -4]]})
    assert r.json() == {"predictions": [[2, 4], [6, -8]]}


def test_sklearn_predict_classify_regress(app: RestApp) -> None:
    clf, x = sklearn_models.iris_classifier()
    r = post(app, "/v1/models/iris:predict", {"instances": x[:2].tolist()})
    predictions = r.json()["predictions"]
    assert [p["label"] for p in predictions] == clf.predict(x[:2]).tolist()
    np.testing.assert_allclose([p["probabilities"] for p in predictions], clf.predict_proba(x[:2]))

    r = post(app, "/v1/models/iris:classify", {"examples": [{"input": x[0].tolist()}]})
    (result,) = r.json()["results"]
    assert [label for label, _ in result] == ["0", "1", "2"]
    np.testing.assert_allclose([score for _, score in result], clf.predict_proba(x[:1])[0])

    reg, xr = sklearn_models.diabetes_regressor()
    r = post(app, "/v1/models/diabetes:regress", {"examples": [{"input": row} for row in xr[:2].tolist()]})
    np.testing.assert_allclose(r.json()["results"], reg.predict(xr[:2]))


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/v1/models/nope", None, 404, "model 'nope' is not served"),
        ("POST", "/v1/models/nope:predict", {"instances": [1]}, 404, "not served"),
        ("GET", "/v1/models/mlp/versions/9", None, 404, "no version 9"),
        ("GET", "/v1/models/mlp/versions/abc", None, 400, "invalid version"),
        ("GET", "/v1/models/mlp/versions/-1", None, 400, "invalid version"),
        ("GET", "/v1/models/mlp/labels/beta", None, 404, "no label 'beta'"),
        ("POST", "/v1/models/mlp:predict", {"instances": [[1, 2, 3]]}, 400, "shape [1, 3]"),
        ("POST", "/v1/models/mlp:predict", {"instances": [["a", "b", "c", "d"]]}, 400, "expected float32"),
        ("POST", "/v1/models/mlp:predict", {"inputs": {"y": [[1, 2, 3, 4]]}}, 400, "unknown input 'y'"),
        ("POST", "/v1/models/mlp:predict", {"instances": [[1, 2, 3, 4], [1]]}, 400, "ragged"),
        (
            "POST",
            "/v1/models/mlp:predict",
            {"instances": [[1]], "signature_name": "x"},
            404,
            "no signature 'x'",
        ),
        ("POST", "/v1/models/two:predict", {"inputs": {"a": [[1, 2, 3]]}}, 400, "missing input(s) 'b'"),
        ("POST", "/v1/models/ints:predict", {"instances": [[1.5, 2]]}, 400, "non-integers"),
        ("POST", "/v1/models/mlp:explode", {}, 404, "unknown method ':explode'"),
        ("GET", "/v1/models/mlp:predict", None, 405, "use POST"),
        ("POST", "/v1/models/mlp", {}, 405, "use GET"),
        ("GET", "/v1/models/%2e%2e", None, 400, "invalid model name"),
        ("GET", "/v1/models/a%00b", None, 400, "invalid model name"),
        ("GET", "/v1/models/" + "a" * 300, None, 400, "invalid model name"),
        ("GET", "/v1/models/a%2Fb", None, 400, "invalid model name"),
        ("GET", "/nowhere", None, 404, "no such route"),
    ],
)
def test_bad_requests_get_named_4xx(
    app: RestApp, method: str, path: str, body: object, status: int, message: str
) -> None:
    r = call(app, method, path, json=body)
    assert r.status == status, r.body
    assert message in r.json()["error"]


def test_malformed_json_and_huge_body(app: RestApp) -> None:
    r = call(app, "POST", "/v1/models/mlp:predict", content=b'{"instances": [1,')
    assert r.status == 400 and "malformed JSON" in r.json()["error"]
    r = call(app, "POST", "/v1/models/mlp:predict", content=b"")
    assert r.status == 400 and "empty" in r.json()["error"]
    r = call(app, "POST", "/v1/models/mlp:predict", content=b"[" + b"1," * 600_000 + b"1]")
    assert r.status == 413 and "limit" in r.json()["error"]


def test_fast_and_general_json_paths_answer_alike(app: RestApp) -> None:
    """A body starting with its numbers takes the C path; the same body in another key order does not."""
    x = np.random.default_rng(5).normal(size=(4, 4)).astype(np.float32)
    rows = orjson.dumps(x.tolist()).decode()
    fast = call(app, "POST", "/v1/models/mlp:predict", content=f'{{"instances": {rows}}}'.encode())
    reordered = f'{{"signature_name": "", "instances": {rows}}}'.encode()
    general = call(app, "POST", "/v1/models/mlp:predict", content=reordered)
    assert fast.status == general.status == 200
    assert fast.body == general.body
    columns = call(app, "POST", "/v1/models/mlp:predict", content=f'{{"inputs": {rows}}}'.encode())
    assert columns.json()["outputs"] == fast.json()["predictions"]
    # integers through the fast path keep the integer model's checks
    ints = call(app, "POST", "/v1/models/ints:predict", content=b'{"instances": [[1, 2.5]]}')
    assert ints.status == 400 and "non-integers" in ints.json()["error"]
    strings = call(app, "POST", "/v1/models/mlp:predict", content=b'{"instances": [[1, 2, 3, "4"]]}')
    assert strings.status == 400 and "expected float32" in strings.json()["error"]


def test_tf_serving_quickstart_body_on_a_column_signature(app: RestApp) -> None:
    """TF Serving's own quickstart sends [2, 3, 4] to a [-1, 1] signature and gets a flat answer."""
    r = post(app, "/v1/models/half_plus_two:predict", {"instances": [2.0, 3.0, 4.0]})
    assert r.status == 200 and r.json() == {"predictions": [3.0, 3.5, 4.0]}
    r = post(app, "/v1/models/half_plus_two:predict", {"inputs": [2.0, 3.0, 4.0]})
    assert r.status == 200 and r.json() == {"outputs": [3.0, 3.5, 4.0]}
    r = post(app, "/v1/models/half_plus_two:predict", {"instances": [[2.0], [3.0]]})
    assert r.status == 200 and r.json() == {"predictions": [[3.0], [3.5]]}  # the full shape stays as it is
    r = post(app, "/v1/models/mlp:predict", {"instances": [1.0, 2.0, 3.0, 4.0]})
    assert r.status == 400 and "has shape [4] but the signature expects [-1, 4]" in r.json()["error"]


def test_the_model_list(app: RestApp) -> None:
    r = get(app, "/v1/models")
    assert r.status == 200
    models = {m["name"]: m for m in r.json()["models"]}
    assert {"mlp", "two", "iris", "diabetes", "half_plus_two"} <= set(models)
    assert [v["version"] for v in models["mlp"]["model_version_status"]] == ["2", "1"]
    assert models["mlp"]["model_version_status"][0]["state"] == "AVAILABLE"
    assert call(app, "POST", "/v1/models", json={}).status == 405


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # issue 20 #8 and #9, the same bytes
        (b'{"inputs": {"x\n": [[1,2]]}}', "malformed JSON in the request body"),
        (b'{"instances": [[1, true]]}', "input 'x': expected float32 values, got a boolean at [0, 1]"),
        (
            b'{"instances": [[3.5e38, 1]]}',
            "input 'x': the value 3.5e+38 at [0, 0] is out of range for float32",
        ),
        (b'{"instances": [[1, 2, 3, true]]}', "got a boolean at [0, 3]"),
        (b'{"instances": [[1, 2, -3.5e38, 4]]}', "the value -3.5e+38 at [0, 2] is out of range for float32"),
        (
            b'{"signature_name": "serving_default", "instances": [[1, 2, 3, 4e39]]}',
            "the value 4e+39 at [0, 3]",
        ),
    ],
)
def test_numbers_that_would_be_read_wrong_are_400s(app: RestApp, body: bytes, message: str) -> None:
    r = call(app, "POST", "/v1/models/mlp:predict", content=body)
    assert r.status == 400, r.json()
    assert message in r.json()["error"]


def test_null_in_an_instance_is_named_where_it_is(app: RestApp) -> None:
    r = post(app, "/v1/models/mlp:predict", {"instances": [[None, 0.0, 0.0, 0.0]]})
    assert r.status == 400
    assert "expected float32 values, got null at [0, 0]" in r.json()["error"]
    r = post(app, "/v1/models/mlp:predict", {"instances": [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, "x", 4.0]]})
    assert r.status == 400 and "got strings: 'x' at [1, 2]" in r.json()["error"]
