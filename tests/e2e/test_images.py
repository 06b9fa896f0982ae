"""Image inputs end to end against a real ``moorings serve`` process: multipart PNG and JPEG,
{"b64": ...} JSON, KServe V2 BYTES over REST (binary data) and gRPC with tritonclient, an
EXIF-turned JPEG and a GIF's first frame. Every answer equals ONNX Runtime run directly on the
tensor Pillow + numpy make of the same files."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.support import images
from tests.support.server import RunningServer, running_server

th = pytest.importorskip("tritonclient.http")
tg = pytest.importorskip("tritonclient.grpc")

pytestmark = pytest.mark.e2e

NAMES = ["tabby cat", "beagle", "goldfish", "tractor"]
PNG = images.encode(images.photo(seed=1), "PNG")
JPEG = images.encode(images.photo(50, 20, seed=2), "JPEG", quality=90)
TURNED = images.jpeg_with_orientation(images.photo(40, 30, seed=3), 6)
GIF = images.two_frame_gif(images.photo(12, 16, seed=4), np.zeros((12, 16, 3), np.uint8))


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, images.ImageModel]]:
    repo = tmp_path_factory.mktemp("images-e2e") / "repo"
    model = images.write_image_model(repo / "photos" / "1")
    toml = images.image_toml() + '\n[classes]\noutput = "probabilities"\n'
    (repo / "photos" / "model.toml").write_text(toml)
    (repo / "photos" / "1" / "labels.txt").write_text("\n".join(NAMES) + "\n")
    with running_server(repo, tfserving_grpc=False) as server:
        yield server, model


def expected(model: images.ImageModel, encoded: list[bytes]) -> dict[str, np.ndarray]:
    return model.run(images.reference_tensor(encoded, **images.NORMALISATION))


def close(got: object, want: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float32), want, rtol=1e-5, atol=1e-6)


def test_multipart_uploads(model: tuple[RunningServer, images.ImageModel]) -> None:
    server, reference = model
    files = [("image", ("a.png", PNG, "image/png")), ("image", ("b.jpg", JPEG, "image/jpeg"))]
    r = httpx.post(f"{server.url}/v1/models/photos:predict", files=files, timeout=30)
    assert r.status_code == 200, r.text
    want = expected(reference, [PNG, JPEG])
    close([row["probabilities"] for row in r.json()["predictions"]], want["probabilities"])
    close([row["mean"] for row in r.json()["predictions"]], want["mean"])
    r = httpx.post(f"{server.url}/v1/models/photos/versions/1:predict", files=files[1:], data={"top_k": "2"})
    assert r.status_code == 200, r.text
    (row,) = r.json()["predictions"]
    best = int(np.argmax(expected(reference, [JPEG])["probabilities"][0]))
    assert row["label"] == NAMES[best] and len(row["top_k"]) == 2


def test_exif_orientation_and_the_first_gif_frame(model: tuple[RunningServer, images.ImageModel]) -> None:
    server, reference = model
    files = [("image", ("turned.jpg", TURNED, "image/jpeg")), ("image", ("two.gif", GIF, "image/gif"))]
    r = httpx.post(f"{server.url}/v1/models/photos:predict", files=files, timeout=30)
    assert r.status_code == 200, r.text
    want = expected(reference, [TURNED, images.encode(images.photo(12, 16, seed=4), "GIF")])
    close([row["mean"] for row in r.json()["predictions"]], want["mean"])


def test_b64_json(model: tuple[RunningServer, images.ImageModel]) -> None:
    server, reference = model
    body = {"instances": [{"b64": base64.b64encode(d).decode()} for d in (JPEG, PNG)]}
    r = httpx.post(f"{server.url}/v1/models/photos:predict", json=body, timeout=30)
    assert r.status_code == 200, r.text
    close(
        [row["probabilities"] for row in r.json()["predictions"]],
        expected(reference, [JPEG, PNG])["probabilities"],
    )


def _bytes_batch(*encoded: bytes) -> np.ndarray:
    values = np.empty(len(encoded), dtype=object)
    values[:] = list(encoded)
    return values


def test_kserve_v2_bytes_over_rest_and_grpc(model: tuple[RunningServer, images.ImageModel]) -> None:
    server, reference = model
    batch = _bytes_batch(PNG, JPEG, PNG)
    want = expected(reference, [PNG, JPEG, PNG])
    http = th.InferenceServerClient(f"127.0.0.1:{server.rest_port}")
    meta = http.get_model_metadata("photos")
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    tensor = th.InferInput("image", [3], "BYTES")
    tensor.set_data_from_numpy(batch, binary_data=True)
    result = http.infer(
        "photos", [tensor], outputs=[th.InferRequestedOutput("probabilities", binary_data=True)]
    )
    close(result.as_numpy("probabilities"), want["probabilities"])
    grpc_client = tg.InferenceServerClient(server.grpc_target)
    gtensor = tg.InferInput("image", [3], "BYTES")
    gtensor.set_data_from_numpy(batch)
    gresult = grpc_client.infer("photos", [gtensor])
    close(gresult.as_numpy("probabilities"), want["probabilities"])
    close(gresult.as_numpy("mean"), want["mean"])
    # the classification extension names the classes
    ranked = http.infer("photos", [tensor], outputs=[th.InferRequestedOutput("probabilities", class_count=1)])
    best = [NAMES[int(i)] for i in np.argmax(want["probabilities"], axis=1)]
    assert [v.decode().split(":")[2] for v in ranked.as_numpy("probabilities").reshape(-1)] == best


def test_a_bad_image_over_grpc_is_invalid_argument_naming_it(
    model: tuple[RunningServer, images.ImageModel],
) -> None:
    server, _ = model
    client = tg.InferenceServerClient(server.grpc_target)
    tensor = tg.InferInput("image", [2], "BYTES")
    tensor.set_data_from_numpy(_bytes_batch(PNG, images.bomb_png()))
    with pytest.raises(Exception) as caught:
        client.infer("photos", [tensor])
    assert "StatusCode.INVALID_ARGUMENT" in str(caught.value)
    assert "image 1 of input 'image' declares 2500000000 pixels" in str(caught.value)
