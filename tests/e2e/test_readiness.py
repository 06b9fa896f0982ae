"""Readiness through a real server: 503 while a version warms up, and from the moment SIGTERM arrives."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.e2e.test_batching_queue import WIDTH, write_slow_model
from tests.support.server import running_server

pytestmark = pytest.mark.e2e

ROW = [0.5] * WIDTH


def _probe(url: str) -> tuple[int, int]:
    """(``/v2/health/ready``, ``GET /v1/models/slow``) status codes."""
    return httpx.get(f"{url}/v2/health/ready").status_code, httpx.get(f"{url}/v1/models/slow").status_code


def test_not_ready_until_the_warmup_has_run(tmp_path: Path) -> None:
    folder = tmp_path / "repo" / "slow" / "1"
    write_slow_model(folder, layers=500)
    rows = np.full((32, WIDTH), 0.5).tolist()
    (folder / "warmup.json").write_text(json.dumps([{"predict": {"instances": rows}}] * 30))
    with running_server(tmp_path / "repo", "--batch-threads", "1", wait_ready=False) as server:
        seen = []  # probes each followed by a status still LOADING: taken during the load
        deadline = time.monotonic() + 120
        while True:
            probe = _probe(server.url)
            status = httpx.get(f"{server.url}/v1/models/slow").json()["model_version_status"]
            if status[0]["state"] not in ("LOADING", "START"):
                break
            seen.append(probe)
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "warmed up slow version 1 with 30 request(s)" in server.log()
        assert len(seen) > 3 and set(seen) == {(503, 503)}, seen
        for _ in range(100):  # readiness follows the load's end
            if _probe(server.url) == (200, 200):
                break
            time.sleep(0.05)
        assert _probe(server.url) == (200, 200)
        assert (
            httpx.get(f"{server.url}/v1/models/slow").json()["model_version_status"][0]["state"]
            == "AVAILABLE"
        )


def test_sigterm_turns_readiness_503_at_once_while_requests_are_still_answered(tmp_path: Path) -> None:
    write_slow_model(tmp_path / "repo" / "slow" / "1", layers=2)
    with running_server(tmp_path / "repo", "--drain-delay-seconds", "3", "--drain-seconds", "5") as server:
        assert _probe(server.url) == (200, 200)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        while _probe(server.url) != (503, 503):
            assert time.monotonic() - signalled < 1, "readiness still 200 a second after SIGTERM"
            time.sleep(0.02)
        # the listeners still answer requests during the delay
        for _ in range(5):
            answer = httpx.post(f"{server.url}/v1/models/slow:predict", json={"instances": [ROW]})
            assert answer.status_code == 200
            assert _probe(server.url) == (503, 503)
            time.sleep(0.1)
        assert time.monotonic() - signalled < 3
        assert server.process.wait(30) == 0
        stopped = time.monotonic() - signalled
    assert 3 <= stopped < 8, f"stopped {stopped:.1f} s after SIGTERM with a 3 s delay"
    assert "answering as before for 3 s" in server.log()


def test_a_second_signal_cuts_the_delay_short(tmp_path: Path) -> None:
    write_slow_model(tmp_path / "repo" / "slow" / "1", layers=2)
    with running_server(tmp_path / "repo", "--drain-delay-seconds", "60") as server:
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        while _probe(server.url) != (503, 503):
            assert time.monotonic() - signalled < 1
            time.sleep(0.02)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
        assert time.monotonic() - signalled < 10
