"""DataPlane.stream over a real Manager: results step by step, closing, one-result streams, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.errors import DeadlineExceeded, InvalidArgument
from moorings.repository.source import LocalSource
from moorings.requests import PredictRequest
from moorings.types import ModelRef, Signature, Tensors
from tests.support import onnx_models, python_models

STEPS = """
import itertools
from pathlib import Path


class Steps:
    inputs = {{"n": {{"dtype": "int64", "shape": [-1]}}}}
    outputs = {{"count": {{"dtype": "int64", "shape": [-1]}}, "twice": {{"dtype": "int64", "shape": [-1]}}}}

    def stream(self, inputs):
        log = Path({log!r})
        try:
            for i in itertools.count():
                log.write_text(str(i + 1))  # how many results were made
                yield {{"count": inputs["n"] + i, "twice": 2 * (inputs["n"] + i)}}
        finally:
            Path({flag!r}).write_text("closed")
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DataPlane, Path, onnx_models.Mlp]]:
    root = tmp_path_factory.mktemp("stream-repo")
    repo = root / "repo"
    python_models.write(repo / "steps" / "1", STEPS.format(log=str(root / "made"), flag=str(root / "closed")))
    mlp = onnx_models.write_mlp(repo / "mlp" / "1", seed=3)
    manager = Manager(LocalSource(repo), Loader(repo, allow_python_models=True))
    manager.poll_once()
    manager.wait_until_idle(60)
    dataplane = DataPlane(manager, inference_threads=2)
    yield dataplane, root, mlp
    manager.stop()
    dataplane.close()


def fixed(inputs: Tensors):  # type: ignore[no-untyped-def]
    def decode(signature: Signature) -> Tensors:
        return inputs

    return decode


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_results_are_made_only_as_they_are_asked_for_and_close_ends_the_generator(
    setup: tuple[DataPlane, Path, onnx_models.Mlp],
) -> None:
    dataplane, root, _ = setup
    request = PredictRequest(ModelRef("steps"), fixed({"n": np.array([5])}), outputs=("count",))

    async def run() -> list[int]:
        stream = await dataplane.stream(request)
        got = []
        async for result in stream:
            got.append(int(result.outputs["count"][0]))
            assert list(result.outputs) == ["count"]  # the outputs asked for
            if len(got) == 3:
                await asyncio.sleep(0.2)  # a slow reader: nothing more is made meanwhile
                assert (root / "made").read_text() == "3"
                break
        await stream.aclose()
        return got

    assert asyncio.run(run()) == [5, 6, 7]
    _wait_for(root / "closed")
    assert (root / "closed").read_text() == "closed"


def test_a_model_that_does_not_stream_answers_one_result(
    setup: tuple[DataPlane, Path, onnx_models.Mlp],
) -> None:
    dataplane, _, mlp = setup
    x = np.random.default_rng(1).normal(size=(2, 4)).astype(np.float32)

    async def run() -> list[np.ndarray]:
        stream = await dataplane.stream(PredictRequest(ModelRef("mlp"), fixed({"x": x})))
        try:
            return [result.outputs["probabilities"] async for result in stream]
        finally:
            await stream.aclose()

    (only,) = asyncio.run(run())
    np.testing.assert_allclose(only, mlp(x), rtol=1e-5)


def test_errors_before_the_first_result_are_raised_by_stream(
    setup: tuple[DataPlane, Path, onnx_models.Mlp],
) -> None:
    dataplane, _, _ = setup
    with pytest.raises(InvalidArgument, match="missing input"):
        asyncio.run(dataplane.stream(PredictRequest(ModelRef("steps"), fixed({}))))

    async def late() -> None:
        request = PredictRequest(
            ModelRef("steps"), fixed({"n": np.array([1])}), deadline=time.monotonic() - 1
        )
        stream = await dataplane.stream(request)
        try:
            await stream.__anext__()
        finally:
            await stream.aclose()

    with pytest.raises(DeadlineExceeded):
        asyncio.run(late())
