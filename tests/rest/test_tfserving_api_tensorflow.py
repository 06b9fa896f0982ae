"""TensorFlow Serving's REST API, in-process, against TensorFlow and Keras models."""

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from moorings.rest.app import RestApp
from tests.support.asgi import call, serving_app

pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def app(tf_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestApp]:
    repo = tmp_path_factory.mktemp("tf-repo")
    for name in ("keras_savedmodel", "keras_file", "text", "examples", "examples_tf2", "image"):
        shutil.copytree(tf_models / name, repo / name / "1")
    shutil.copytree(tf_models / "examples_tf2", repo / "named" / "1")
    (repo / "named" / "1" / "assets").mkdir(exist_ok=True)
    (repo / "named" / "1" / "assets" / "labels.txt").write_text("total\n")
    with serving_app(repo, load_timeout=120) as app:
        yield app


def test_savedmodel_and_keras_file_agree(app: RestApp) -> None:
    x = np.random.default_rng(0).normal(size=(2, 4)).round(3).tolist()
    a = call(app, "POST", "/v1/models/keras_savedmodel:predict", json={"instances": x}).json()
    b = call(app, "POST", "/v1/models/keras_file:predict", json={"instances": x}).json()
    np.testing.assert_allclose(a["predictions"], b["predictions"], rtol=1e-5)
    meta = call(app, "GET", "/v1/models/keras_savedmodel/metadata").json()
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["features"]["name"].startswith("serving_default_features")


def test_string_input_with_b64_and_bytes_output(app: RestApp) -> None:
    body = {"instances": [{"b64": base64.b64encode(b"abc").decode()}, "hello"]}
    r = call(app, "POST", "/v1/models/text:predict", json=body)
    assert r.status == 200, r.body
    assert r.json() == {
        "predictions": [
            {"length": 3, "upper_bytes": {"b64": base64.b64encode(b"ABC").decode()}},
            {"length": 5, "upper_bytes": {"b64": base64.b64encode(b"HELLO").decode()}},
        ]
    }
    r = call(app, "POST", "/v1/models/text:predict", json={"inputs": {"text": [1, 2]}})
    assert r.status == 400 and "'text': expected strings" in r.json()["error"]


def test_classify_and_regress_signatures(app: RestApp) -> None:
    body = {"signature_name": "classify_x", "examples": [{"x": [1.0, 2.0]}, {"x": [0.5, -1.0]}]}
    r = call(app, "POST", "/v1/models/examples:classify", json=body)
    assert r.status == 200, r.body
    results = r.json()["results"]
    assert [[label for label, _ in row] for row in results] == [["cat", "dog"], ["cat", "dog"]]
    r = call(app, "POST", "/v1/models/examples:regress", json={"examples": [{"x": [1.0, 2.0]}]})
    assert r.status == 200, r.body
    assert r.json() == {"results": [6.0]}
    r = call(
        app,
        "POST",
        "/v1/models/examples:classify",
        json={"signature_name": "regress_x", "examples": [{"x": [1.0, 2.0]}]},
    )
    assert r.status == 400 and "not 'tensorflow/serving/classify'" in r.json()["error"]


def test_a_tensorflow_op_error_names_its_cause(app: RestApp) -> None:
    response = call(app, "POST", "/v1/models/image:predict", json={"instances": [{"b64": "aGVsbG8="}]})
    assert response.status == 400, response.body
    error = response.json()["error"]
    assert error.startswith("the model rejected the input: Unknown image file format.")
    assert "Graph execution" not in error and "[[" not in error


def test_tf2_predict_method_signatures_classify_and_regress(app: RestApp) -> None:
    """TF Serving runs :classify / :regress on TF2 signatures, whose method name is always predict."""
    examples = [{"x": [1.0, 2.0]}, {"x": [0.5, -1.0]}]
    r = call(app, "POST", "/v1/models/examples_tf2:classify", json={"examples": examples})
    assert r.status == 200, r.body
    assert [[label for label, _ in row] for row in r.json()["results"]] == [["cat", "dog"], ["cat", "dog"]]
    r = call(
        app,
        "POST",
        "/v1/models/examples_tf2:regress",
        json={"signature_name": "regress_x", "examples": examples},
    )
    assert r.status == 200 and r.json() == {"results": [6.0, -1.0]}
    # no 'classes' output: TF Serving answers an empty label, not an invented index
    r = call(
        app,
        "POST",
        "/v1/models/examples_tf2:classify",
        json={"signature_name": "scores", "examples": examples},
    )
    assert r.status == 200 and r.json() == {"results": [[["", 3.0]], [["", -0.5]]]}
    # a signature that does not take serialized tf.Examples is named
    r = call(
        app,
        "POST",
        "/v1/models/examples_tf2:classify",
        json={"signature_name": "predict_x", "examples": examples},
    )
    assert r.status == 400 and "serialized tf.Example" in r.json()["error"]


def test_a_savedmodel_labels_asset_names_classes_its_signature_does_not(app: RestApp) -> None:
    examples = [{"x": [1.0, 2.0]}, {"x": [0.5, -1.0]}]
    body = {"signature_name": "scores", "examples": examples}
    r = call(app, "POST", "/v1/models/named:classify", json=body)
    assert r.status == 200 and r.json() == {"results": [[["total", 3.0]], [["total", -0.5]]]}
    # a 'classes' output is the model's own names: they stay
    r = call(app, "POST", "/v1/models/named:classify", json={"examples": examples})
    assert [[label for label, _ in row] for row in r.json()["results"]] == [["cat", "dog"], ["cat", "dog"]]


def test_binary_data_the_graph_cannot_parse_is_named(app: RestApp) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    body = {"signature_name": "classify_x", "instances": [{"b64": base64.b64encode(png).decode()}]}
    r = call(app, "POST", "/v1/models/examples:predict", json=body)
    assert r.status == 400
    error = r.json()["error"]
    assert "could not parse string input 'inputs' of signature 'classify_x'" in error
    assert "use :classify with 'examples'" in error and "codec" not in error
