"""Loading a slow model must not stall requests to the models already serving.

The first TensorFlow SavedModel a server loads pays for `import tensorflow`
(several seconds of CPU-bound Python) and the graph load: that is the slowest
load there is, and it happens in the loader's thread while the event loop keeps
answering requests for an ONNX model.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support import onnx_models
from tests.support.server import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.tensorflow]

X = np.random.default_rng(3).normal(size=(1, 4)).astype(np.float32)


def test_slow_load_does_not_stall_other_models(tmp_path: Path, tf_models: Path) -> None:
    repo = tmp_path / "repo"
    mlp = onnx_models.write_mlp(repo / "fast" / "1", seed=1)
    body = {"instances": X.tolist()}

    with running_server(repo) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.post("/v1/models/fast:predict", json=body).status_code == 200
        staging = tmp_path / ".staging"
        shutil.copytree(tf_models / "keras_savedmodel", staging)
        (repo / "slow").mkdir()
        staging.rename(repo / "slow" / "1")

        latencies: list[float] = []
        loaded_after = None
        started = time.monotonic()
        while time.monotonic() - started < 60:
            t0 = time.perf_counter()
            r = client.post("/v1/models/fast:predict", json=body)
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(r.json()["predictions"], mlp(X), rtol=1e-5)
            status = client.get("/v1/models/slow").json()
            states = [v["state"] for v in status.get("model_version_status", [])]
            if states == ["AVAILABLE"]:
                loaded_after = time.monotonic() - started
                break
        assert loaded_after is not None, f"the SavedModel never became AVAILABLE:\n{server.log()}"

    # The load took a while, and every request during it was answered promptly.
    assert len(latencies) > 5, f"only {len(latencies)} requests during a {loaded_after:.1f}s load"
    worst = max(latencies)
    assert worst < 1.0, f"a request to another model waited {worst:.2f}s during the load"
