"""Broken new versions published under load never replace the one serving, and say why.

Under open-loop load (100 req/s; 12 s short, 30 s full) four broken versions and then a broken
``model.toml`` are published one after another: a truncated ``model.onnx``, one of random bytes,
an empty version folder, invalid TOML and a TOML with a value out of range. Each must leave
version 1 answering every request, and show in ``GET /v1/models/mlp`` and in ``/metrics``
(``moorings_model_load_failures_total`` per version, ``moorings_model_config_error`` per model).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import numpy as np
import pytest
from benchmarks.openloop import run_open_loop

from tests.reliability.helpers import LoadThread, metric, publish, version_status, wait_for
from tests.reliability.scale import pick
from tests.support import onnx_models
from tests.support.server import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]

RATE = 100.0
X = np.random.default_rng(5).normal(size=(1, 4)).astype(np.float32)


def _broken_versions(tmp_path: Path) -> dict[int, tuple[Path, str]]:
    """version -> (staged folder, a phrase its load error must contain)."""
    good = (onnx_models.write_mlp(tmp_path / "good", seed=2), tmp_path / "good" / "model.onnx")[1]
    data = good.read_bytes()
    staged = {}
    for version, content, phrase in (
        (2, data[: len(data) // 3], "ONNX Runtime"),
        (3, os.urandom(len(data)), "ONNX Runtime"),
        (4, None, "holds no model file"),
    ):
        folder = tmp_path / "staging" / str(version)
        folder.mkdir(parents=True)
        if content is not None:
            (folder / "model.onnx").write_bytes(content)
        staged[version] = (folder, phrase)
    return staged


def test_broken_versions_under_load_leave_the_old_one_serving(tmp_path: Path) -> None:
    seconds = pick(12, 30)
    repo = tmp_path / "repo"
    y1 = onnx_models.write_mlp(repo / "mlp" / "1", seed=1)(X)
    staged = _broken_versions(tmp_path)
    body = json.dumps({"instances": X.tolist()}).encode()
    steps = len(staged) + 2
    with running_server(repo) as server:
        load = LoadThread(
            lambda: run_open_loop(
                f"{server.url}/v1/models/mlp:predict", RATE, seconds, body=body, keep_bodies=True
            )
        )
        load.start()
        for step, (version, (folder, phrase)) in enumerate(staged.items()):
            wait_for(
                lambda step=step: load.elapsed() > seconds * (step + 1) / (steps + 1), seconds, "its turn"
            )
            publish(folder, repo / "mlp", version)

            def failed(version: int = version) -> bool:
                s = version_status(server.url, "mlp").get(str(version))
                return s is not None and s["state"] == "END"

            wait_for(failed, 10, f"version {version} failing")
            status = version_status(server.url, "mlp")
            assert status["1"]["state"] == "AVAILABLE"
            assert status[str(version)]["status"]["error_code"] != "OK"
            assert phrase in status[str(version)]["status"]["error_message"]
            assert str(tmp_path) not in json.dumps(status)
            text = httpx.get(f"{server.url}/metrics").text
            assert (
                metric(text, "moorings_model_load_failures_total", model="mlp", version=str(version)) or 0
            ) >= 1
            assert metric(text, "moorings_model_state", model="mlp", version="1", state="AVAILABLE") == 1

        toml = repo / "mlp" / "model.toml"
        for step, (content, phrase) in enumerate(
            (
                ("[versions\npolicy =", "not valid TOML"),
                ("[batching]\nmax_batch_size = -3\n", "max_batch_size"),
            )
        ):
            wait_for(
                lambda step=step: load.elapsed() > seconds * (len(staged) + step + 1) / (steps + 1), seconds
            )
            toml.write_text(content)

            def named(phrase: str = phrase) -> bool:
                return phrase in httpx.get(f"{server.url}/v1/models/mlp").json().get("model_config_error", "")

            wait_for(named, 10, f"the status naming {phrase!r}")
            text = httpx.get(f"{server.url}/metrics").text
            assert metric(text, "moorings_model_config_error", model="mlp") == 1
            assert version_status(server.url, "mlp")["1"]["state"] == "AVAILABLE"
        report = load.result(seconds + 60)

        # a fixed model.toml clears the error
        toml.write_text("[versions]\nlatest = 1\n")
        wait_for(lambda: "model_config_error" not in httpx.get(f"{server.url}/v1/models/mlp").json(), 10)
        wait_for(
            lambda: (
                metric(httpx.get(f"{server.url}/metrics").text, "moorings_model_config_error", model="mlp")
                == 0
            ),
            5,
        )
        assert server.process.poll() is None

    summary = report.summary()
    print("corrupt versions:", summary)
    assert report.failed == [], summary
    assert report.statuses() == {200: len(report.outcomes)}, summary
    for outcome in report.outcomes:
        np.testing.assert_allclose(json.loads(outcome.body or b"")["predictions"], y1, rtol=1e-5)
