"""The request runner over a real Manager and real models: every request kind, and what it refuses."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.dataplane import DataPlane
from moorings.errors import InvalidArgument, NotFound
from moorings.repository.source import LocalSource
from moorings.requests import ExamplesRequest, PredictRequest
from moorings.types import ModelRef, Signature, Tensors, VersionState
from tests.support import onnx_models, sklearn_models

X = np.random.default_rng(3).normal(size=(2, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DataPlane, onnx_models.Mlp]]:
    root = tmp_path_factory.mktemp("runner-repo")
    mlp = onnx_models.write_mlp(root / "mlp" / "1", seed=5)
    onnx_models.write_mlp(root / "mlp" / "2", seed=6)
    (root / "mlp" / "model.toml").write_text('[versions]\npolicy = "all"\n')
    onnx_models.write_two_in_two_out(root / "two" / "1")
    model, _ = sklearn_models.iris_classifier()
    sklearn_models.write_skops(model, root / "iris" / "1")
    manager = Manager(LocalSource(root), Loader(root))
    manager.poll_once()
    manager.wait_until_idle(60)
    dataplane = DataPlane(manager, inference_threads=1)
    yield dataplane, mlp
    manager.stop()
    dataplane.close()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def fixed(inputs: Tensors):  # type: ignore[no-untyped-def]
    def decode(signature: Signature) -> Tensors:
        return inputs

    return decode


def test_predict_resolves_runs_and_reports_what_answered(plane: tuple[DataPlane, onnx_models.Mlp]) -> None:
    dataplane, _ = plane
    result = run(dataplane.predict(PredictRequest(ModelRef("mlp", 1), fixed({"x": X}))))
    assert (result.servable.name, result.servable.version) == ("mlp", 1)
    assert result.signature.name == "serving_default"
    assert list(result.outputs) == ["probabilities"]
    newest = run(dataplane.predict(PredictRequest(ModelRef("mlp"), fixed({"x": X}))))
    assert newest.servable.version == 2


def test_the_decoder_gets_the_resolved_signature(plane: tuple[DataPlane, onnx_models.Mlp]) -> None:
    dataplane, mlp = plane
    seen: list[Signature] = []

    def decode(signature: Signature) -> Tensors:
        seen.append(signature)
        return {"x": X.astype(np.float64).astype(signature.inputs["x"].dtype.numpy)}

    result = run(dataplane.predict(PredictRequest(ModelRef("mlp", 1), decode)))
    assert [s.name for s in seen] == ["serving_default"]
    np.testing.assert_allclose(result.outputs["probabilities"], mlp(X), rtol=1e-5, atol=1e-6)


def test_outputs_come_back_as_asked(plane: tuple[DataPlane, onnx_models.Mlp]) -> None:
    dataplane, _ = plane
    a = np.ones((1, 3), np.float32)
    request = PredictRequest(ModelRef("two"), fixed({"a": a, "b": a * 3}), outputs=("product", "sum"))
    result = run(dataplane.predict(request))
    assert list(result.outputs) == ["product", "sum"]
    np.testing.assert_array_equal(result.outputs["product"], a * 3)
    twice = PredictRequest(ModelRef("two"), fixed({"a": a, "b": a}), outputs=("sum", "sum"))
    with pytest.raises(InvalidArgument, match="more than once"):
        run(dataplane.predict(twice))


def test_bad_requests_are_named_before_anything_runs(plane: tuple[DataPlane, onnx_models.Mlp]) -> None:
    dataplane, _ = plane
    decoded = threading.Event()

    def decode(signature: Signature) -> Tensors:
        decoded.set()
        return {"x": X}

    with pytest.raises(NotFound, match="no signature 'nope'"):
        run(dataplane.predict(PredictRequest(ModelRef("mlp"), decode, signature_name="nope")))
    with pytest.raises(InvalidArgument, match="unknown output"):
        run(dataplane.predict(PredictRequest(ModelRef("mlp"), decode, outputs=("logits",))))
    assert not decoded.is_set()
    with pytest.raises(InvalidArgument, match="has shape"):
        run(dataplane.predict(PredictRequest(ModelRef("mlp"), fixed({"x": X[:, :3]}))))
    with pytest.raises(NotFound):
        run(dataplane.predict(PredictRequest(ModelRef("absent"), decode)))


def test_classify_and_regress_pick_the_signature(plane: tuple[DataPlane, onnx_models.Mlp]) -> None:
    dataplane, _ = plane
    _, x = sklearn_models.iris_classifier()
    examples = [{"input": [float(v) for v in row]} for row in x[:2]]
    outcome = run(dataplane.classify(ExamplesRequest(ModelRef("iris"), examples)))
    assert outcome.servable.name == "iris"
    assert len(outcome.result.labels) == 2 and len(outcome.result.scores) == 2
    with pytest.raises(Exception, match="classifier; use :classify"):
        run(dataplane.regress(ExamplesRequest(ModelRef("iris"), examples)))


def test_metadata_and_status(plane: tuple[DataPlane, onnx_models.Mlp]) -> None:
    dataplane, _ = plane
    meta = dataplane.metadata(ModelRef("mlp"))
    assert (meta.servable.version, meta.runtime, meta.available_versions) == (2, "onnx", [1, 2])
    assert "serving_default" in meta.signatures
    status = dataplane.status(ModelRef("mlp"))
    assert {v.version: v.state for v in status.versions} == {
        1: VersionState.AVAILABLE,
        2: VersionState.AVAILABLE,
    }
    assert dataplane.is_model_ready(ModelRef("mlp", 1))
    assert sorted(dataplane.model_names()) == ["iris", "mlp", "two"]
