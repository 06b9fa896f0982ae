"""Keras files: names that depend on the file alone, and corrupt archives (issue 17 #1, #7)."""

from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import LoadError
from moorings.runtimes.keras import KerasRuntime
from tests.support import tf_models as tfm

pytestmark = pytest.mark.tensorflow


def _loaded(path: Path) -> KerasRuntime:
    runtime = KerasRuntime(path, RuntimeOptions())
    runtime.load()
    return runtime


def _names(runtime: KerasRuntime) -> tuple[list[str], list[str]]:
    signature = runtime.signatures["serving_default"]
    return list(signature.inputs), list(signature.outputs)


def test_names_are_the_same_on_every_load(tmp_path: Path) -> None:
    tfm.write_keras_file(tfm.keras_sequential(named=False), tmp_path / "1")
    tfm.write_keras_file(tfm.keras_sequential(named=False, seed=2), tmp_path / "2")
    first = _names(_loaded(tmp_path / "1"))
    for _ in range(3):  # other models built and loaded in between move Keras' global name counters
        tfm.keras_sequential(named=False)
        _loaded(tmp_path / "2")
    assert first == _names(_loaded(tmp_path / "1")) == _names(_loaded(tmp_path / "2"))
    assert first == (["input_0"], ["output_0"])


def test_names_the_author_gave_are_kept(tmp_path: Path) -> None:
    tfm.write_keras_file(tfm.keras_sequential(named=True), tmp_path / "named")
    runtime = _loaded(tmp_path / "named")
    assert _names(runtime) == (["pixels"], ["digit"])
    x = np.random.default_rng(0).uniform(0, 16, size=(3, 64)).astype(np.float32)
    out = runtime.predict(runtime.signatures["serving_default"], {"pixels": x})
    assert out["digit"].shape == (3, 10)


def test_dict_inputs_and_outputs_are_named_by_their_keys(tmp_path: Path) -> None:
    model = tfm.keras_dict_model()
    tfm.write_keras_file(model, tmp_path / "dict")
    runtime = _loaded(tmp_path / "dict")
    assert sorted(_names(runtime)[0]) == ["a", "b"] and sorted(_names(runtime)[1]) == ["y", "z"]
    rng = np.random.default_rng(0)
    feeds = {"a": rng.normal(size=(4, 2)).astype(np.float32), "b": rng.normal(size=(4, 3)).astype(np.float32)}
    out = runtime.predict(runtime.signatures["serving_default"], feeds)
    expected = model.predict_on_batch(feeds)
    np.testing.assert_allclose(out["y"], expected["y"], rtol=1e-5)
    np.testing.assert_allclose(out["z"], expected["z"], rtol=1e-5)


def test_a_truncated_keras_file_is_reported_as_corrupt(tf_models: Path, tmp_path: Path) -> None:
    data = (tf_models / "keras_file" / "model.keras").read_bytes()
    (tmp_path / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError) as info:
        _loaded(tmp_path)
    assert info.value.message == (
        "model.keras is corrupt or truncated: it is not a readable zip archive (a .keras file is one)"
    )


def test_a_zip_that_is_not_a_keras_model_is_reported(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(LoadError, match="not a Keras model"):
        _loaded(tmp_path)
