"""The demo: build the digits repository, serve it, and recognise digits through each runtime."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from build_repository import build, load_data, train_sklearn
from tests.support.server import running_server

pytestmark = [pytest.mark.tensorflow, pytest.mark.e2e]

HERE = Path(__file__).parent


def test_demo_repository_serves_digits(tmp_path: Path) -> None:
    repo = tmp_path / "demo-repository"
    build(repo)
    request = json.loads((HERE / "request.json").read_text())
    x, y = load_data()
    reference = train_sklearn(x, y)
    rows = np.array(request["instances"], dtype=np.float32)

    with running_server(repo) as server:
        sk = httpx.post(f"{server.url}/v1/models/digits-sklearn:predict", json=request).json()
        assert [p["label"] for p in sk["predictions"]] == [0, 7]
        np.testing.assert_allclose(
            [p["probabilities"] for p in sk["predictions"]], reference.predict_proba(rows), atol=1e-5
        )
        onnx = httpx.post(f"{server.url}/v1/models/digits-onnx:predict", json=request).json()
        assert [p["label"] for p in onnx["predictions"]] == [0, 7]
        np.testing.assert_allclose(
            [p["probabilities"] for p in onnx["predictions"]], reference.predict_proba(rows), atol=1e-4
        )
        keras = httpx.post(f"{server.url}/v1/models/digits-keras/labels/stable:predict", json=request)
        assert [p["digit"] for p in keras.json()["predictions"]] == [0, 7]
        # the whole bundled data set, columnar, through the SavedModel: a trained model, not a toy
        r = httpx.post(
            f"{server.url}/v1/models/digits-keras:predict", json={"inputs": x.tolist()}, timeout=30
        )
        accuracy = float(np.mean(np.array(r.json()["outputs"]["digit"]) == y))
        assert accuracy > 0.95
