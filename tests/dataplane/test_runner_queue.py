"""Unbatched calls waiting for the inference pool are bounded: beyond the bound, 429 at once.

Before, ``--no-batching`` (and :classify / :regress, and any signature that is not batched) put
every call on the thread pool's unbounded queue: at three times the rate a model sustained,
nothing was refused, latency grew to the clients' timeouts and memory with the queue
(tests/reliability/test_overload.py found it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.errors import ResourceExhausted
from moorings.repository.source import LocalSource
from moorings.requests import PredictRequest
from moorings.types import ModelRef, Signature, Tensors
from tests.e2e.test_batching_queue import WIDTH, write_slow_model

X = np.full((1, WIDTH), 0.5, np.float32)


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[DataPlane]:
    write_slow_model(tmp_path / "slow" / "1", layers=400)
    (tmp_path / "slow" / "model.toml").write_text("[batching]\nenabled = false\n")
    manager = Manager(LocalSource(tmp_path), Loader(tmp_path))
    manager.poll_once()
    manager.wait_until_idle(60)
    dataplane = DataPlane(manager, inference_threads=1, max_waiting_calls=2)
    yield dataplane
    manager.stop()
    dataplane.close()


def _decode(signature: Signature) -> Tensors:
    return {"x": X}


async def _predicts(plane: DataPlane, n: int) -> list[object]:
    calls = [plane.predict(PredictRequest(ModelRef("slow"), _decode)) for _ in range(n)]
    return await asyncio.gather(*calls, return_exceptions=True)


def test_calls_past_the_bound_get_resource_exhausted(plane: DataPlane) -> None:
    outcomes = asyncio.run(_predicts(plane, 10))
    refused = [o for o in outcomes if isinstance(o, ResourceExhausted)]
    assert len(refused) == 7, outcomes  # one running on the one thread, two waiting
    assert "the inference queue is full" in refused[0].message
    assert all(not isinstance(o, Exception) for o in outcomes[:3])
    # the slots are free again once the calls are done
    assert not any(isinstance(o, Exception) for o in asyncio.run(_predicts(plane, 3)))


def test_cancelled_calls_give_their_slots_back(plane: DataPlane) -> None:
    async def cancel_three() -> None:
        tasks = [
            asyncio.ensure_future(plane.predict(PredictRequest(ModelRef("slow"), _decode))) for _ in range(3)
        ]
        await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(cancel_three())
    plane.executor.submit(lambda: None).result(30)  # the cancelled (or finished) calls are out of the pool
    assert not any(isinstance(o, Exception) for o in asyncio.run(_predicts(plane, 3)))
