"""``--workers 2``: /metrics adds up both workers' figures, whichever worker answers the scrape."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.observe.helpers import scrape, value
from tests.support import onnx_models
from tests.support.server import free_port, running_server

pytestmark = pytest.mark.e2e

REQUESTS = 24


def test_two_workers_serve_their_figures_together(tmp_path: Path) -> None:
    onnx_models.write_mlp(tmp_path / "repo" / "mlp" / "1")
    metrics_port = free_port()
    args = ("--workers", "2", "--log-format", "json", "--metrics-port", str(metrics_port))
    with running_server(tmp_path / "repo", *args, "--data-dir", str(tmp_path / "data")) as server:
        deadline = time.monotonic() + 60
        while server.log().count('"message":"REST API on') < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # both workers listening
        for _ in range(REQUESTS):  # a new connection each time: the kernel spreads them over the workers
            response = httpx.post(f"{server.url}/v1/models/mlp:predict", json={"instances": [[1, 2, 3, 4]]})
            assert response.status_code == 200
        labels = {
            "model": "mlp",
            "version": "1",
            "protocol": "tfserving_rest",
            "kind": "predict",
            "code": "200",
        }
        # each worker adds its tallies to the shared files every second: wait for both
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            samples = scrape(f"{server.url}/metrics")
            if value(samples, "moorings_requests_total", **labels) == REQUESTS:
                break
            time.sleep(0.2)
        for _ in range(6):  # each scrape on a new connection, answered by either worker
            samples = scrape(f"{server.url}/metrics")
            assert value(samples, "moorings_requests_total", **labels) == REQUESTS
            assert value(samples, "moorings_queue_wait_seconds_count", model="mlp", version="1") == REQUESTS
        # the workers share --metrics-port too, and it shows the same sums
        for _ in range(4):
            on_port = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
            assert value(on_port, "moorings_requests_total", **labels) == REQUESTS
        # both workers loaded the version: its state is kept per worker and the greatest is shown
        assert value(samples, "moorings_model_state", model="mlp", version="1", state="AVAILABLE") == 1
        loads = samples["moorings_model_load_duration_seconds"]
        assert next(v for got, v in loads if got["model"] == "mlp") > 0
        assert all("pid" not in got for got, _ in loads)  # "max" mode: one series, no pid label
        # both workers answered some of the requests, so neither worker's figures alone make the total
        served_by = {
            entry["process"]
            for entry in map(json.loads, filter(lambda line: line.startswith("{"), server.log().splitlines()))
            if entry.get("logger") == "moorings.access" and entry.get("kind") == "predict"
        }
        assert served_by == {"moorings-worker-0", "moorings-worker-1"}
