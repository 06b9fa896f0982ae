"""Image bytes over TF Serving's gRPC API (a DT_STRING tensor, tensorflow-serving-api's own
stubs) into a declared image input, and a SavedModel that decodes the images in its own graph
(``tf.io.decode_image``): its bytes pass through untouched, uploaded or as {"b64": ...}."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from tests.support import images
from tests.support.server import RunningServer, running_server

tf = pytest.importorskip("tensorflow")
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.tensorflow]

PNG = images.encode(images.photo(seed=5), "PNG")
JPEG = images.encode(images.photo(50, 20, seed=6), "JPEG", quality=90)


@pytest.fixture(scope="module")
def served(
    tf_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, images.ImageModel]]:
    repo = tmp_path_factory.mktemp("images-tf") / "repo"
    model = images.write_image_model(repo / "photos" / "1")
    (repo / "photos" / "model.toml").write_text(images.image_toml())
    shutil.copytree(tf_models / "image", repo / "graph" / "1")
    with running_server(repo) as server:
        yield server, model


def _graph_totals(encoded: list[bytes]) -> list[float]:
    """What the SavedModel itself computes: the sum of each image decoded to one channel."""
    return [float(tf.reduce_sum(tf.cast(tf.io.decode_image(d, channels=1), tf.float32))) for d in encoded]


def test_a_dt_string_tensor_over_tfserving_grpc(served: tuple[RunningServer, images.ImageModel]) -> None:
    server, model = served
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "photos"
    request.inputs["image"].CopyFrom(tf.make_tensor_proto([PNG, JPEG], dtype=tf.string))
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(request, timeout=30)
        got = tf.make_ndarray(response.outputs["probabilities"])
        want = model.run(images.reference_tensor([PNG, JPEG], **images.NORMALISATION))
        np.testing.assert_allclose(got, want["probabilities"], rtol=1e-5, atol=1e-6)
        request.inputs["image"].CopyFrom(tf.make_tensor_proto([b"not an image"], dtype=tf.string))
        with pytest.raises(grpc.RpcError) as caught:
            stub.Predict(request, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "image 0 of input 'image' is not an image" in caught.value.details()


def test_a_savedmodel_that_decodes_in_its_graph_gets_the_bytes_untouched(
    served: tuple[RunningServer, images.ImageModel],
) -> None:
    server, _ = served
    want = _graph_totals([PNG, JPEG])
    files = [("image", ("a.png", PNG, "image/png")), ("image", ("b.jpg", JPEG, "image/jpeg"))]
    r = httpx.post(f"{server.url}/v1/models/graph:predict", files=files, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == pytest.approx(want, rel=1e-6)
    body = {"instances": [{"b64": base64.b64encode(d).decode()} for d in (PNG, JPEG)]}
    r = httpx.post(f"{server.url}/v1/models/graph:predict", json=body, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == pytest.approx(want, rel=1e-6)
