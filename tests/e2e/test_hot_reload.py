"""A real server process: versions go live, break, get labels and go away while a client keeps calling."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support import onnx_models
from tests.support.server import running_server

pytestmark = pytest.mark.e2e

X = np.random.default_rng(7).normal(size=(2, 4)).astype(np.float32)


class Client(threading.Thread):
    """Sends predictions continuously; records failures and which versions answered."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.count = 0
        self.last: np.ndarray | None = None

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    r = client.post(f"{self.url}/v1/models/mlp:predict", json={"instances": X.tolist()})
                    if r.status_code != 200:
                        self.failures.append(f"{r.status_code} {r.text}")
                    else:
                        self.last = np.array(r.json()["predictions"], np.float32)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.count += 1


def _wait_for(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s")


def _copy_in(src: Path, model_dir: Path, version: int) -> None:
    """Write under a temporary name, then rename: the way to publish a version atomically."""
    tmp = model_dir / f".tmp-{version}"
    shutil.copytree(src, tmp)
    tmp.rename(model_dir / str(version))


def test_hot_reload_under_load(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    v1 = onnx_models.write_mlp(repo / "mlp" / "1", seed=1)
    v2 = onnx_models.write_mlp(tmp_path / "staging" / "2", seed=2)

    with running_server(repo) as server:
        client = Client(server.url)
        client.start()
        try:
            _wait_for(lambda: client.last is not None, 10)
            np.testing.assert_allclose(client.last, v1(X), rtol=1e-5)

            # version 2 is published and goes live by itself, with no failed request
            _copy_in(tmp_path / "staging" / "2", repo / "mlp", 2)
            took = _wait_for(
                lambda: client.last is not None and np.allclose(client.last, v2(X), rtol=1e-5), 10
            )
            assert took < 3.0, f"v2 took {took:.2f}s to serve"

            # a corrupt version 3 (truncated file) never replaces version 2
            data = (tmp_path / "staging" / "2" / "model.onnx").read_bytes()
            broken = tmp_path / "staging" / "3"
            broken.mkdir()
            (broken / "model.onnx").write_bytes(data[: len(data) // 3])
            _copy_in(broken, repo / "mlp", 3)

            def v3_failed() -> bool:
                status = httpx.get(f"{server.url}/v1/models/mlp").json()["model_version_status"]
                return any(s["version"] == "3" and s["state"] == "END" for s in status)

            _wait_for(v3_failed, 10)
            status = httpx.get(f"{server.url}/v1/models/mlp").json()["model_version_status"]
            by_version = {s["version"]: s for s in status}
            assert by_version["2"]["state"] == "AVAILABLE"
            assert by_version["3"]["status"]["error_code"] != "OK"
            assert "ONNX Runtime" in by_version["3"]["status"]["error_message"]
            assert str(tmp_path) not in by_version["3"]["status"]["error_message"]
            time.sleep(0.5)
            np.testing.assert_allclose(client.last, v2(X), rtol=1e-5)
        finally:
            client.stop.set()
            client.join(10)
        assert client.count > 20
        assert client.failures == []

        # labels route to the right versions once model.toml says so
        shutil.rmtree(repo / "mlp" / "3")
        (repo / "mlp" / "model.toml").write_text(
            '[versions]\npolicy = "all"\n[labels]\nstable = 1\ncanary = 2\n'
        )

        def labels_ready() -> bool:
            r = httpx.post(
                f"{server.url}/v1/models/mlp/labels/stable:predict", json={"instances": X.tolist()}
            )
            return r.status_code == 200

        _wait_for(labels_ready, 10)
        for label, model in (("stable", v1), ("canary", v2)):
            r = httpx.post(
                f"{server.url}/v1/models/mlp/labels/{label}:predict", json={"instances": X.tolist()}
            )
            np.testing.assert_allclose(r.json()["predictions"], model(X), rtol=1e-5)

        # removing the model folder unloads it
        shutil.rmtree(repo / "mlp")
        _wait_for(lambda: httpx.get(f"{server.url}/v1/models/mlp").status_code == 404, 10)
        assert server.process.poll() is None
