"""REST deadlines through a real server: a request whose deadline passes while it waits behind a slow
batch is never run and gets 504; one without a deadline waits and gets 200."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_batching_queue import WIDTH, write_slow_model
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.e2e

#: one worker, small batches: a big request occupies the model for a while, others queue behind it
SERIAL = ("--max-batch-size", "16", "--batch-threads", "1", "--inference-threads", "1")
ROW = [0.5] * WIDTH
#: long enough (~1 s on a quiet machine) that a 50 ms deadline passes while a request waits behind it
BIG = {"instances": [ROW] * 512}


@pytest.fixture(scope="module")
def slow_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deadlines")
    write_slow_model(root / "repo" / "slow" / "1", layers=500)
    return root / "repo"


@pytest.fixture(scope="module")
def server(slow_repo: Path) -> Iterator[RunningServer]:
    with running_server(slow_repo, *SERIAL) as running:
        yield running


async def _behind_a_slow_request(
    url: str, path: str, body: object, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, httpx.Response]:
    """(the slow request's answer, the answer to ``body`` sent while the slow one runs)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        slow = asyncio.create_task(client.post("/v1/models/slow:predict", json=BIG))
        await _until_answering_another(client)
        await asyncio.sleep(0.3)  # its body read and decoded, its batch on the model
        assert not slow.done(), "the slow request must still be running"
        answer = await client.post(path, json=body, headers=headers)
        return await slow, answer


async def _until_answering_another(client: httpx.AsyncClient) -> None:
    """Wait until the server has a request in hand besides the scrape asking (on a busy machine the
    slow request may take a while to arrive; sent behind it, the other request must not overtake)."""
    for _ in range(200):
        metrics = (await client.get("/metrics")).text
        counts = [
            line.split()[-1]
            for line in metrics.splitlines()
            if line.startswith("moorings_requests_in_flight")
        ]
        if counts and float(counts[0]) >= 2:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the slow request never reached the server")


def test_a_queued_request_past_its_request_timeout_gets_504(server: RunningServer) -> None:
    slow, late = asyncio.run(
        _behind_a_slow_request(
            server.url, "/v1/models/slow:predict", {"instances": [ROW]}, {"Request-Timeout": "0.05"}
        )
    )
    assert slow.status_code == 200
    assert late.status_code == 504, late.text
    assert "deadline" in late.json()["error"]


def test_without_a_deadline_the_queued_request_waits_and_runs(server: RunningServer) -> None:
    slow, waited = asyncio.run(
        _behind_a_slow_request(server.url, "/v1/models/slow:predict", {"instances": [ROW]})
    )
    assert (slow.status_code, waited.status_code) == (200, 200)


def test_a_v2_parameters_timeout_in_microseconds_is_a_deadline(server: RunningServer) -> None:
    body = {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, WIDTH], "data": ROW}],
        "parameters": {"timeout": 50_000},
    }
    slow, late = asyncio.run(_behind_a_slow_request(server.url, "/v2/models/slow/infer", body))
    assert slow.status_code == 200
    assert late.status_code == 504, late.text


def test_a_bad_request_timeout_header_is_400(server: RunningServer) -> None:
    answer = httpx.post(
        f"{server.url}/v1/models/slow:predict", json={"instances": [ROW]}, headers={"Request-Timeout": "soon"}
    )
    assert answer.status_code == 400
    assert "Request-Timeout" in answer.json()["error"]


def test_the_server_default_applies_to_requests_that_name_none(slow_repo: Path) -> None:
    with running_server(slow_repo, *SERIAL, "--request-timeout-seconds", "0.05") as server:
        slow, late = asyncio.run(
            _behind_a_slow_request(server.url, "/v1/models/slow:predict", {"instances": [ROW]})
        )
    # the slow request itself ran: a deadline stops a request from starting, not from finishing
    assert slow.status_code == 200
    assert late.status_code == 504, late.text
