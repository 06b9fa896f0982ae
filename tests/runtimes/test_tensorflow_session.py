"""SavedModels that tf.saved_model.load cannot restore run as TF1 graphs in a session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument
from moorings.runtimes.tensorflow import TensorFlowRuntime, import_tensorflow
from moorings.runtimes.tensorflow_session import SessionModel
from tests.support import tf_models as tfm

pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def tf1_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tf1") / "half_plus_three"
    tfm.write_tf1_half_plus_three(folder)
    return folder


def test_the_session_runs_a_signature_by_its_tensor_names(tf1_model: Path) -> None:
    runtime = TensorFlowRuntime(tf1_model, RuntimeOptions())
    runtime.load()
    signature = runtime.signatures["serving_default"]
    session = SessionModel(import_tensorflow(), tf1_model, 1)
    try:
        out = session.run(signature, {"x": np.array([1.0, 2.0, 5.0], np.float32)})
    finally:
        session.close()
    np.testing.assert_allclose(out["y"], [3.5, 4.0, 5.5])


def test_a_graph_tf2_cannot_restore_is_served_through_a_session(
    tf1_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tf = import_tensorflow()

    def tf2_refuses(*args: object, **kwargs: object) -> None:  # what saved_model_half_plus_three gets
        raise ValueError("Shapes must be equal rank, but are 2 and 0")

    monkeypatch.setattr(tf.saved_model, "load", tf2_refuses)
    runtime = TensorFlowRuntime(tf1_model, RuntimeOptions())
    runtime.load()
    signature = runtime.signatures["serving_default"]
    assert runtime._session is not None
    out = runtime.predict(signature, {"x": np.array([2.0, 4.0], np.float32)})
    np.testing.assert_allclose(out["y"], [4.0, 5.0])
    with pytest.raises(InvalidArgument, match="the model rejected the input"):
        runtime.predict(signature, {"x": np.zeros((2, 2), np.float32)})
    runtime.unload()
