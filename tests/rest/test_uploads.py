"""Image uploads through the REST app (multipart/form-data and {"b64": ...}) against a real ONNX
image model whose model.toml declares an image input; each answer equals ONNX Runtime run
directly on the tensor Pillow + numpy make of the same files."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from moorings.rest.app import RestApp
from tests.support import images, onnx_models
from tests.support.asgi import Response, call, serving_app
from tests.support.forms import multipart

NAMES = ["tabby cat", "beagle", "goldfish", "tractor"]
PNG = images.encode(images.photo(seed=1), "PNG")
JPEG = images.encode(images.photo(50, 20, seed=2), "JPEG", quality=90)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, images.ImageModel, images.ImageModel]:
    root = tmp_path_factory.mktemp("uploads-repo")
    nhwc = images.write_image_model(root / "photos" / "1")
    toml = images.image_toml() + '\n[classes]\noutput = "probabilities"\n[labels]\nstable = 1\n'
    (root / "photos" / "model.toml").write_text(toml)
    (root / "photos" / "1" / "labels.txt").write_text("\n".join(NAMES) + "\n")
    nchw = images.write_image_model(root / "planar" / "1", layout="NCHW", seed=4)
    (root / "planar" / "model.toml").write_text(images.image_toml("NCHW") + "\n[batching]\nenabled = false\n")
    onnx_models.write_two_in_two_out(root / "numbers" / "1")
    return root, nhwc, nchw


@pytest.fixture(scope="module")
def app(repo: tuple[Path, Any, Any]) -> Iterator[RestApp]:
    with serving_app(repo[0]) as app:
        yield app


def upload(
    app: RestApp, path: str, files: list[tuple[str, bytes]], data: dict[str, str] | None = None
) -> Response:
    parts = [(name, None, value.encode()) for name, value in (data or {}).items()]
    parts += [(name, f"file{i}.bin", content) for i, (name, content) in enumerate(files)]
    body, content_type = multipart(parts)
    return call(app, "POST", path, content=body, headers={"content-type": content_type})


def expected(model: images.ImageModel, encoded: list[bytes]) -> dict[str, np.ndarray]:
    return model.run(images.reference_tensor(encoded, layout=model.layout, **images.NORMALISATION))


def rows(body: Any, name: str) -> np.ndarray:
    return np.array([row[name] for row in body["predictions"]], dtype=np.float32)


@pytest.mark.parametrize("model", ["photos", "planar"])
def test_multipart_png_and_jpeg_equal_the_runtime_on_the_decoded_tensor(
    app: RestApp, repo: Any, model: str
) -> None:
    reference = repo[1] if model == "photos" else repo[2]
    r = upload(app, f"/v1/models/{model}:predict", [("image", PNG), ("image", JPEG)])
    assert r.status == 200, r.body
    want = expected(reference, [PNG, JPEG])
    np.testing.assert_allclose(rows(r.json(), "probabilities"), want["probabilities"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rows(r.json(), "mean"), want["mean"], rtol=1e-5, atol=1e-6)


def test_b64_json_equals_the_runtime_too(app: RestApp, repo: Any) -> None:
    body = {"instances": [{"b64": base64.b64encode(d).decode()} for d in (JPEG, PNG)]}
    r = call(app, "POST", "/v1/models/photos/versions/1:predict", json=body)
    assert r.status == 200, r.body
    want = expected(repo[1], [JPEG, PNG])
    np.testing.assert_allclose(rows(r.json(), "probabilities"), want["probabilities"], rtol=1e-5, atol=1e-6)
    columnar = {
        "inputs": {"image": [{"b64": base64.b64encode(PNG).decode()}]},
        "signature_name": "serving_default",
    }
    r = call(app, "POST", "/v1/models/photos:predict", json=columnar)
    assert r.status == 200, r.body
    np.testing.assert_allclose(
        r.json()["outputs"]["mean"], expected(repo[1], [PNG])["mean"], rtol=1e-5, atol=1e-6
    )


def test_metadata_shows_what_clients_send(app: RestApp) -> None:
    r = call(app, "GET", "/v1/models/photos/metadata")
    signature = r.json()["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["image"]["dtype"] == "DT_STRING"
    assert [d["size"] for d in signature["inputs"]["image"]["tensor_shape"]["dim"]] == ["-1"]
    r = call(app, "GET", "/v2/models/photos")
    assert r.json()["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]


def test_top_k_and_classify_name_the_classes(app: RestApp, repo: Any) -> None:
    probabilities = expected(repo[1], [PNG, JPEG])["probabilities"]
    order = np.argsort(-probabilities, axis=1, kind="stable")
    r = upload(app, "/v1/models/photos:predict", [("image", PNG), ("image", JPEG)], {"top_k": "2"})
    assert r.status == 200, r.body
    predictions = r.json()["predictions"]
    assert [[e["label"] for e in row["top_k"]] for row in predictions] == [
        [NAMES[i] for i in row[:2]] for row in order
    ]
    assert predictions[0]["confidence"] == pytest.approx(float(probabilities[0, order[0, 0]]), rel=1e-5)
    r = upload(app, "/v1/models/photos/labels/stable:classify", [("image", JPEG)])
    assert r.status == 200, r.body
    (result,) = r.json()["results"]
    assert [label for label, _ in result] == NAMES
    want = expected(repo[1], [JPEG])["probabilities"][0]
    np.testing.assert_allclose([score for _, score in result], want, rtol=1e-5)
    r = upload(app, "/v1/models/photos:classify", [("image", JPEG)], {"top_k": "2"})
    assert r.status == 200, r.body
    (best_two,) = r.json()["results"]
    order = np.argsort(-want, kind="stable")[:2]
    assert [label for label, _ in best_two] == [NAMES[i] for i in order]
    np.testing.assert_allclose([score for _, score in best_two], want[order], rtol=1e-5)


def test_number_inputs_take_json_fields(app: RestApp) -> None:
    r = upload(app, "/v1/models/numbers:predict", [], {"a": "[1, 2, 3]", "b": "[0.5, 0.5, 0.5]"})
    assert r.status == 200, r.body
    assert r.json() == {"predictions": [{"sum": [1.5, 2.5, 3.5], "product": [0.5, 1.0, 1.5]}]}


@pytest.mark.parametrize(
    ("path", "files", "data", "message"),
    [
        (
            "photos:predict",
            [],
            {"signature_name": "serving_default"},
            "the form has no part for input 'image'",
        ),
        (
            "photos:predict",
            [("image", PNG), ("photo", PNG)],
            None,
            "a part named 'photo', which is not an input",
        ),
        ("photos:predict", [("image", PNG)], {"top_k": "lots"}, "'top_k' must be a positive integer"),
        ("photos:regress", [("image", PNG)], None, ":regress takes a JSON body"),
        (
            "numbers:predict",
            [("a", b"[1,2,3]")],
            {"b": "[1,2,3]"},
            "part 'a' is a file, but input 'a' takes float32",
        ),
        ("numbers:predict", [], {"a": "[1,2,3", "b": "[1,2,3]"}, "part 'a' is not a JSON value"),
        ("numbers:predict", [], {"a": "[1,2,3]", "b": "[[1,2,3]]"}, "input 'b' has shape [1, 1, 3]"),
    ],
)
def test_bad_uploads_name_what_is_wrong(
    app: RestApp, path: str, files: list[tuple[str, bytes]], data: dict[str, str] | None, message: str
) -> None:
    r = upload(app, f"/v1/models/{path}", files, data)
    assert r.status == 400, r.body
    assert message in r.json()["error"]


def test_a_raw_image_body_names_the_content_type(app: RestApp) -> None:
    r = call(app, "POST", "/v1/models/photos:predict", content=PNG, headers={"content-type": "image/png"})
    assert r.status == 400
    error = r.json()["error"]
    assert error.startswith("malformed JSON in the request body")
    assert "multipart/form-data with one part per input (the request's Content-Type is 'image/png')" in error
    # JSON sent with curl's default form type still works as before
    body = {"instances": [{"b64": base64.b64encode(PNG).decode()}]}
    r = call(
        app,
        "POST",
        "/v1/models/photos:predict",
        json=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status == 200, r.body


def test_a_bad_image_in_a_batch_fails_only_its_request(app: RestApp, repo: Any) -> None:
    import asyncio

    async def both() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            good = {"instances": [{"b64": base64.b64encode(PNG).decode()}]}
            bad = {"instances": [{"b64": base64.b64encode(PNG[:40]).decode()}]}
            calls = [client.post("/v1/models/photos:predict", json=b) for b in (good, bad, good, bad)]
            return list(await asyncio.gather(*calls))

    answers = asyncio.run(both())
    assert [a.status_code for a in answers] == [200, 400, 200, 400]
    want = expected(repo[1], [PNG])["probabilities"]
    np.testing.assert_allclose(rows(answers[2].json(), "probabilities"), want, rtol=1e-5, atol=1e-6)
    assert "image 0 of input 'image'" in answers[1].json()["error"]


def test_json_classify_takes_b64_image_features(app: RestApp, repo: Any) -> None:
    body = {"examples": [{"image": {"b64": base64.b64encode(d).decode()}} for d in (PNG, JPEG)]}
    r = call(app, "POST", "/v1/models/photos:classify", json=body)
    assert r.status == 200, r.body
    results = r.json()["results"]
    assert [[label for label, _ in row] for row in results] == [NAMES, NAMES]
    want = expected(repo[1], [PNG, JPEG])["probabilities"]
    np.testing.assert_allclose([[score for _, score in row] for row in results], want, rtol=1e-5)


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"preamble\r\n--b\r\n", "multipart/form-data; boundary=b", "body does not start with its boundary"),
        (b"", "multipart/form-data; boundary=b", "the multipart/form-data body is empty"),
        (b"--b\r\n", "multipart/form-data", "has no boundary parameter"),
        (b"--b\r\n", "text/plain", "malformed JSON in the request body"),
    ],
)
def test_form_bodies_that_cannot_be_read_are_named(
    app: RestApp, body: bytes, content_type: str, message: str
) -> None:
    r = call(app, "POST", "/v1/models/photos:predict", content=body, headers={"content-type": content_type})
    assert r.status == 400, r.body
    assert message in r.json()["error"]
