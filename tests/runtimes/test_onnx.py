from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError
from moorings.runtimes.onnx import OnnxRuntime
from tests.support import onnx_models


def test_predict_equals_onnxruntime_directly(tmp_path: Path) -> None:
    mlp = onnx_models.write_mlp(tmp_path)
    runtime = OnnxRuntime(tmp_path, RuntimeOptions())
    runtime.load()
    signature = runtime.signatures["serving_default"]
    assert list(signature.inputs) == ["x"]
    assert signature.inputs["x"].shape == (-1, 4)
    assert signature.outputs["probabilities"].dtype.name == "float32"

    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    served = runtime.predict(signature, {"x": x})["probabilities"]
    direct = ort.InferenceSession(str(tmp_path / "model.onnx")).run(None, {"x": x})[0]
    np.testing.assert_array_equal(served, direct)
    np.testing.assert_allclose(served, mlp(x), rtol=1e-5)


def test_truncated_file_is_a_load_error(tmp_path: Path) -> None:
    onnx_models.write_mlp(tmp_path)
    data = (tmp_path / "model.onnx").read_bytes()
    (tmp_path / "model.onnx").write_bytes(data[: len(data) // 2])
    runtime = OnnxRuntime(tmp_path, RuntimeOptions())
    with pytest.raises(LoadError, match="ONNX Runtime"):
        runtime.load()


def test_bad_input_from_onnxruntime_is_invalid_argument(tmp_path: Path) -> None:
    onnx_models.write_mlp(tmp_path)
    runtime = OnnxRuntime(tmp_path, RuntimeOptions())
    runtime.load()
    with pytest.raises(InvalidArgument):
        runtime.predict(runtime.signatures["serving_default"], {"x": np.zeros((2, 5), np.float32)})
