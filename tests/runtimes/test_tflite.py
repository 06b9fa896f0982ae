"""The TFLite runtime on the committed fixtures (scripts/make_tflite_fixtures.py), without TensorFlow."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument, LoadError
from moorings.runtimes import detect, runtime_class

litert = pytest.importorskip("ai_edge_litert.interpreter")
from moorings.runtimes.tflite import TfliteRuntime  # noqa: E402
from tests.support.concurrent_calls import assert_concurrent_answers  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tflite"
EXPECTED = dict(np.load(FIXTURES / "expected.npz"))


def version(tmp_path: Path, fixture: str) -> Path:
    folder = tmp_path / "1"
    folder.mkdir()
    shutil.copyfile(FIXTURES / f"{fixture}.tflite", folder / "model.tflite")
    return folder


def loaded(folder: Path, **options: object) -> TfliteRuntime:
    runtime = TfliteRuntime(folder, RuntimeOptions(**options))  # type: ignore[arg-type]
    runtime.load()
    return runtime


def direct(file: Path, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    """The signature runner of a fresh LiteRT interpreter, called by hand."""
    interpreter = litert.Interpreter(model_path=str(file))
    result: dict[str, np.ndarray] = interpreter.get_signature_runner("serving_default")(**inputs)
    return result


def test_detected_by_its_file(tmp_path: Path) -> None:
    folder = version(tmp_path, "two_heads")
    assert detect(folder) == "tflite"
    assert runtime_class("tflite") is TfliteRuntime


def test_signature_from_the_signature_def(tmp_path: Path) -> None:
    signature = loaded(version(tmp_path, "two_heads")).signatures["serving_default"]
    described = {n: (s.dtype.name, s.shape) for n, s in {**signature.inputs, **signature.outputs}.items()}
    assert described == {
        "features": ("float32", (-1, 4)),
        "ids": ("int32", (-1, 3)),
        "probabilities": ("float32", (-1, 3)),
        "score": ("float32", (-1, 1)),
    }


def test_predict_equals_litert_and_the_keras_model(tmp_path: Path) -> None:
    folder = version(tmp_path, "two_heads")
    runtime = loaded(folder)
    inputs = {"features": EXPECTED["two_heads.features"], "ids": EXPECTED["two_heads.ids"]}
    served = runtime.predict(runtime.signatures["serving_default"], inputs)
    by_hand = direct(folder / "model.tflite", **inputs)
    assert set(served) == {"probabilities", "score"}
    for name in served:
        np.testing.assert_array_equal(served[name], by_hand[name])
        np.testing.assert_allclose(served[name], EXPECTED[f"two_heads.{name}"], rtol=1e-5, atol=1e-6)


def test_fixed_batch_of_one_runs_row_by_row(tmp_path: Path) -> None:
    folder = version(tmp_path, "batch1")
    runtime = loaded(folder)
    signature = runtime.signatures["serving_default"]
    assert signature.inputs["x"].shape == (-1, 4)
    assert signature.outputs["y"].shape == (-1, 2)
    x = EXPECTED["batch1.x"]
    served = runtime.predict(signature, {"x": x})["y"]
    rows = [direct(folder / "model.tflite", x=x[i : i + 1])["y"] for i in range(len(x))]
    np.testing.assert_array_equal(served, np.concatenate(rows))
    np.testing.assert_allclose(served, EXPECTED["batch1.y"], rtol=1e-5, atol=1e-6)
    # why row by row: this model cannot be resized to a larger batch
    resized = litert.Interpreter(model_path=str(folder / "model.tflite")).get_signature_runner()
    with pytest.raises(RuntimeError):
        resized(x=x)


def test_concurrent_calls_get_their_own_answers(tmp_path: Path) -> None:
    folder = version(tmp_path, "two_heads")
    runtime = loaded(folder, intra_op_threads=1)
    signature = runtime.signatures["serving_default"]
    rng = np.random.default_rng(3)
    calls = [
        {
            "features": rng.normal(size=(n, 4)).astype(np.float32),
            "ids": rng.integers(0, 10, size=(n, 3)).astype(np.int32),
        }
        for n in (1, 2, 3, 5, 8, 13, 1, 4) * 4
    ]
    want = [direct(folder / "model.tflite", **call) for call in calls]
    assert_concurrent_answers(runtime, signature, calls, want, threads=8)


def test_wrong_input_type_is_invalid_argument(tmp_path: Path) -> None:
    runtime = loaded(version(tmp_path, "two_heads"))
    signature = runtime.signatures["serving_default"]
    bad = {"features": np.zeros((2, 4), np.float32), "ids": np.zeros((2, 3), np.float64)}
    with pytest.raises(InvalidArgument, match="rejected the input"):
        runtime.predict(signature, bad)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) // 2], "could not be loaded by LiteRT: .*not a valid Flatbuffer"),
        (lambda data: data[:8], "could not be loaded by LiteRT"),
        (lambda data: b"", "not a TFLite model"),
        (lambda data: b"\x00" * 4 + b"ONNX" + data[8:], "not a TFLite model"),
    ],
    ids=["truncated", "header-only", "empty", "other-identifier"],
)
def test_corrupt_file_is_a_load_error(tmp_path: Path, damage: object, message: str) -> None:
    folder = version(tmp_path, "two_heads")
    file = folder / "model.tflite"
    file.write_bytes(damage(file.read_bytes()))  # type: ignore[operator]
    with pytest.raises(LoadError, match=message):
        loaded(folder)


def test_a_file_replaced_after_load_does_not_touch_the_loaded_model(tmp_path: Path) -> None:
    folder = version(tmp_path, "two_heads")
    runtime = loaded(folder)
    (folder / "model.tflite").write_bytes(b"")  # the bytes were read at load, not mapped
    inputs = {"features": EXPECTED["two_heads.features"], "ids": EXPECTED["two_heads.ids"]}
    served = runtime.predict(runtime.signatures["serving_default"], inputs)
    np.testing.assert_allclose(served["score"], EXPECTED["two_heads.score"], rtol=1e-5, atol=1e-6)
