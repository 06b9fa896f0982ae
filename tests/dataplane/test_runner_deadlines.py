"""A request whose deadline has passed is not run, on the batcher and on the inference pool alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from moorings.batch_settings import BatchingSettings
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.errors import DeadlineExceeded
from moorings.repository.source import LocalSource
from moorings.requests import ExamplesRequest, PredictRequest
from moorings.types import ModelRef, Signature, Tensors
from tests.support import onnx_models, sklearn_models

X = np.ones((2, 4), np.float32)


def _plane(root: Path, batching: bool) -> tuple[Manager, DataPlane]:
    manager = Manager(LocalSource(root), Loader(root, batching=BatchingSettings(enabled=batching)))
    manager.poll_once()
    assert manager.wait_until_idle(60)
    return manager, DataPlane(manager, inference_threads=1)


@pytest.fixture(scope="module", params=[True, False], ids=["batched", "unbatched"])
def plane(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataPlane]:
    root = tmp_path_factory.mktemp("deadline-repo")
    onnx_models.write_mlp(root / "mlp" / "1")
    model, _ = sklearn_models.iris_classifier()
    sklearn_models.write_skops(model, root / "iris" / "1")
    manager, dataplane = _plane(root, request.param)
    yield dataplane
    manager.stop()
    dataplane.close()


def _decode(signature: Signature) -> Tensors:
    return {"x": X}


def test_predict_past_its_deadline_is_refused_and_in_time_runs(plane: DataPlane) -> None:
    late = PredictRequest(ModelRef("mlp"), _decode, deadline=time.monotonic() - 0.001)
    with pytest.raises(DeadlineExceeded, match="deadline passed"):
        asyncio.run(plane.predict(late))
    in_time = PredictRequest(ModelRef("mlp"), _decode, deadline=time.monotonic() + 60)
    assert asyncio.run(plane.predict(in_time)).outputs["probabilities"].shape == (2, 3)


def test_classify_and_regress_past_their_deadline_are_refused(plane: DataPlane) -> None:
    _, x = sklearn_models.iris_classifier()
    examples = [{"input": [float(v) for v in x[0]]}]
    late = ExamplesRequest(ModelRef("iris"), examples, deadline=time.monotonic() - 0.001)
    with pytest.raises(DeadlineExceeded):
        asyncio.run(plane.classify(late))
    with pytest.raises(DeadlineExceeded):
        asyncio.run(plane.regress(late))
    in_time = ExamplesRequest(ModelRef("iris"), examples, deadline=time.monotonic() + 60)
    assert len(asyncio.run(plane.classify(in_time)).result.labels) == 1
