"""ONNX external data: files inside the version folder load; anything else is refused before ONNX Runtime
reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import LoadError
from moorings.runtimes.onnx import OnnxRuntime
from moorings.runtimes.onnx_external import location_problem
from tests.support import onnx_models


def write_external(folder: Path, location: str = "weights.bin") -> onnx_models.Mlp:
    """The test MLP with every initializer's bytes in ``folder/location``."""
    mlp = onnx_models.write_mlp(folder)
    model = onnx.load(str(folder / "model.onnx"))
    (folder / location).parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(folder / "model.onnx"), save_as_external_data=True, location=location,
                    size_threshold=0)  # fmt: skip
    return mlp


def relocate(folder: Path, location: str) -> None:
    """Point every external tensor of ``folder/model.onnx`` at ``location``."""
    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save_model(model, str(folder / "model.onnx"))


def load(folder: Path) -> OnnxRuntime:
    runtime = OnnxRuntime(folder, RuntimeOptions(intra_op_threads=1))
    runtime.load()
    return runtime


def test_external_data_inside_the_folder_loads(tmp_path: Path) -> None:
    folder = tmp_path / "m" / "1"
    mlp = write_external(folder, "data/weights.bin")
    assert (folder / "data" / "weights.bin").is_file()
    runtime = load(folder)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    out = runtime.predict(runtime.signatures["serving_default"], {"x": x})
    np.testing.assert_allclose(out["probabilities"], mlp(x), rtol=1e-5)


@pytest.mark.parametrize(
    ("how", "problem"),
    [("absolute", "is an absolute path"), ("dotdot", "climbs out with '..'"),
     ("symlink", "leaves the version folder"), ("missing", "does not exist")],
)  # fmt: skip
def test_external_data_outside_the_folder_is_refused(tmp_path: Path, how: str, problem: str) -> None:
    folder = tmp_path / "m" / "1"
    write_external(folder)
    outside = tmp_path / "outside.bin"
    shutil.move(folder / "weights.bin", outside)
    if how == "absolute":
        relocate(folder, str(outside))
    elif how == "dotdot":
        relocate(folder, "../../outside.bin")
    elif how == "symlink":
        (folder / "weights.bin").symlink_to(outside)
    with pytest.raises(LoadError) as caught:
        load(folder)
    assert problem in caught.value.message and "tensor 'w1'" in caught.value.message


def test_location_rules() -> None:
    root = Path("/nonexistent-root")
    assert location_problem(root, "") == "names no file"
    assert location_problem(root, "C:\\\\weights.bin") == "is an absolute path"
    assert location_problem(root, "sub\\\\..\\\\..\\\\w.bin") == "climbs out with '..'"
    assert location_problem(root, "a/../b") == "climbs out with '..'"
