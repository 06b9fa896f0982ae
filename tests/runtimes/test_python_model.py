"""The Python model runtime on real model.py files: the flag, the hooks, user errors, outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError, MooringsError, Unimplemented
from moorings.runtimes import detect
from moorings.runtimes.python_model import PythonModelRuntime
from tests.support import python_models

ALLOWED = RuntimeOptions(allow_python_models=True)
SIGNATURE = """
    inputs = {"x": {"dtype": "float32", "shape": [-1, 2]}}
    outputs = {"y": {"dtype": "float32", "shape": [-1, 2]}}
"""


def _load(folder: Path, source: str, options: RuntimeOptions = ALLOWED) -> PythonModelRuntime:
    python_models.write(folder, source)
    runtime = PythonModelRuntime(folder, options)
    runtime.load()
    return runtime


def _run(runtime: PythonModelRuntime, x: list[list[float]]) -> dict[str, np.ndarray]:
    return runtime.predict(runtime.signatures["serving_default"], {"x": np.array(x, np.float32)})


def test_without_the_flag_nothing_runs_and_the_message_names_the_flag(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    python_models.write(tmp_path / "m" / "1", f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(LoadError, match="--allow-python-models") as error:
        PythonModelRuntime(tmp_path / "m" / "1", RuntimeOptions()).load()
    assert "server's rights" in error.value.message
    assert not marker.exists()


def test_a_folder_with_model_py_is_a_python_model_whatever_else_it_holds(tmp_path: Path) -> None:
    folder = python_models.write(tmp_path / "m" / "1", "")
    (folder / "model.onnx").write_bytes(b"an ONNX file the model's code would run")
    assert detect(folder) == "python"


def test_setup_once_then_batched_predict_with_dtype_cast(tmp_path: Path) -> None:
    source = f"""
import numpy as np

class Model:
{SIGNATURE}
    calls = 0

    def setup(self, version_dir):
        type(self).calls += 1
        self.scale = float((version_dir / "scale.txt").read_text())

    def predict(self, batch):
        return {{"y": batch["x"].astype(np.float64) * self.scale}}
"""
    folder = tmp_path / "m" / "1"
    folder.mkdir(parents=True)
    (folder / "scale.txt").write_text("2.5")
    runtime = _load(folder, source)
    out = _run(runtime, [[1, 2], [3, 4]])
    assert out["y"].dtype == np.float32
    np.testing.assert_allclose(out["y"], [[2.5, 5], [7.5, 10]])


def test_preprocess_and_postprocess_wrap_predict(tmp_path: Path) -> None:
    source = f"""
class Model:
{SIGNATURE}
    def preprocess(self, inputs):
        return {{"x": inputs["x"] + 1}}

    def predict(self, batch):
        return {{"doubled": batch["x"] * 2}}

    def postprocess(self, outputs):
        return {{"y": outputs["doubled"] - 1}}
"""
    runtime = _load(tmp_path / "m" / "1", source)
    assert runtime.preprocess is not None and runtime.postprocess is not None
    x = {"x": np.array([[1, 2]], np.float32)}
    raw = runtime.predict(runtime.signatures["serving_default"], runtime.preprocess(x))
    np.testing.assert_allclose(runtime.postprocess(raw)["y"], [[3, 5]])


def test_an_exception_in_predict_is_its_type_and_first_line(tmp_path: Path) -> None:
    source = f"""
class Model:
{SIGNATURE}
    def predict(self, batch):
        raise ValueError("no such thing\\nat /home/secret/model.py")
"""
    runtime = _load(tmp_path / "m" / "1", source)
    with pytest.raises(MooringsError) as error:
        _run(runtime, [[1, 2]])
    assert error.value.http_status == 500
    assert error.value.message == "model.py predict raised ValueError: no such thing"


def test_even_system_exit_in_predict_is_only_a_failed_request(tmp_path: Path) -> None:
    source = f"""
import sys

class Model:
{SIGNATURE}
    def predict(self, batch):
        sys.exit(3)
"""
    runtime = _load(tmp_path / "m" / "1", source)
    with pytest.raises(MooringsError, match="SystemExit"):
        _run(runtime, [[1, 2]])


def test_a_moorings_error_from_user_code_keeps_its_status(tmp_path: Path) -> None:
    source = f"""
from moorings.errors import InvalidArgument

class Model:
{SIGNATURE}
    def predict(self, batch):
        raise InvalidArgument("x must be sorted")
"""
    runtime = _load(tmp_path / "m" / "1", source)
    with pytest.raises(InvalidArgument, match="x must be sorted"):
        _run(runtime, [[1, 2]])


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("[1, 2]", "must return a dict"),
        ('{"z": batch["x"]}', "'z' that the signature does not declare"),
        ('{"y": batch["x"], "z": 1}', "'z' that the signature does not declare"),
        ('{"y": np.array([["a", "b"]])}', "does not cast to the declared float32"),
    ],
)
def test_bad_outputs_are_500s_naming_the_problem(tmp_path: Path, returned: str, message: str) -> None:
    source = f"""
import numpy as np

class Model:
{SIGNATURE}
    def predict(self, batch):
        return {returned}
"""
    runtime = _load(tmp_path / "m" / "1", source)
    with pytest.raises(MooringsError, match=message):
        _run(runtime, [[1, 2]])


def test_stream_checks_each_partial_result_and_close_reaches_the_generator(tmp_path: Path) -> None:
    flag = tmp_path / "closed"
    runtime = _load(tmp_path / "m" / "1", python_models.counter(flag, pause=0))
    assert runtime.streams
    signature = runtime.signatures["serving_default"]
    stream = runtime.stream(signature, {"n": np.array([7], np.int64)})
    assert [int(next(stream)["count"][0]) for _ in range(3)] == [7, 8, 9]
    assert not flag.exists()
    stream.close()  # type: ignore[attr-defined]
    assert flag.read_text() == "closed"


def test_a_model_that_only_streams_refuses_predict(tmp_path: Path) -> None:
    source = f"""
class Model:
{SIGNATURE}
    def stream(self, inputs):
        yield {{"y": inputs["x"]}}
"""
    runtime = _load(tmp_path / "m" / "1", source)
    with pytest.raises(Unimplemented, match="generate_stream"):
        _run(runtime, [[1, 2]])


def test_an_exception_in_setup_fails_the_load(tmp_path: Path) -> None:
    source = f"""
class Model:
{SIGNATURE}
    def setup(self, version_dir):
        raise FileNotFoundError("weights.bin is missing")

    def predict(self, batch):
        return batch
"""
    with pytest.raises(LoadError, match=r"model\.py setup raised FileNotFoundError: weights\.bin is missing"):
        _load(tmp_path / "m" / "1", source)


def test_unload_lets_go_of_the_module(tmp_path: Path) -> None:
    import sys

    before = set(sys.modules)
    source = f"class Model:\n{SIGNATURE}\n    def predict(self, b):\n        return b\n"
    runtime = _load(tmp_path / "m" / "1", source)
    (name,) = set(sys.modules) - before
    assert name.startswith("moorings_model_m_1_")
    runtime.unload()
    assert name not in sys.modules
