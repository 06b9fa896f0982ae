"""Dynamic batching through a real server: a full queue answers 429 at once, nothing else breaks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.support.server import running_server

pytestmark = pytest.mark.e2e

WIDTH = 512


def write_slow_model(folder: Path, layers: int = 60) -> None:
    """``x[-1, 512] -> y[-1, 512]`` through a chain of 512x512 MatMuls: milliseconds per call."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array((rng.normal(size=(WIDTH, WIDTH)) / WIDTH).astype(np.float32), "w")
    nodes, current = [], "x"
    for i in range(layers):
        out = "y" if i == layers - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [current, "w"], [out]))
        current = out
    graph = helper.make_graph(
        nodes,
        "slow",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", WIDTH])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))


async def _flood(url: str, n: int) -> list[httpx.Response]:
    body = {"instances": [[0.5] * WIDTH]}
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(*(client.post(url, json=body) for _ in range(n)))


def test_a_full_batching_queue_answers_429(tmp_path: Path) -> None:
    write_slow_model(tmp_path / "repo" / "slow" / "1")
    args = ("--max-batch-size", "1", "--max-enqueued-batches", "1", "--batch-threads", "1")
    with running_server(tmp_path / "repo", *args) as server:
        responses = asyncio.run(_flood(f"{server.url}/v1/models/slow:predict", 24))
        statuses = sorted({r.status_code for r in responses})
        assert statuses == [200, 429], statuses
        refused = next(r for r in responses if r.status_code == 429)
        assert "queue is full" in refused.json()["error"]
        ok = next(r for r in responses if r.status_code == 200)
        assert np.asarray(ok.json()["predictions"]).shape == (1, WIDTH)
        # the server is fine afterwards
        again = httpx.post(f"{server.url}/v1/models/slow:predict", json={"instances": [[0.5] * WIDTH]})
        assert again.status_code == 200
