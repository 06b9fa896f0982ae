import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions
from moorings.errors import InvalidArgument
from moorings.runtimes.keras import KerasRuntime
from moorings.runtimes.tensorflow import TensorFlowRuntime
from tests.support import tf_models as tfm

pytestmark = pytest.mark.tensorflow


def _loaded(cls: type, path: Path):  # type: ignore[no-untyped-def]
    runtime = cls(path, RuntimeOptions())
    runtime.load()
    return runtime


def test_keras_savedmodel_predicts_like_keras(tf_models: Path) -> None:
    runtime = _loaded(TensorFlowRuntime, tf_models / "keras_savedmodel")
    signature = runtime.signatures["serving_default"]
    assert signature.inputs["features"].shape == (-1, 4)
    assert signature.inputs["features"].tensor_name.endswith(":0")
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    served = runtime.predict(signature, {"features": x})["output_0"]
    expected = tfm.keras_mlp(seed=1).predict_on_batch(x)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)


def test_keras_file_predicts_like_keras(tf_models: Path) -> None:
    runtime = _loaded(KerasRuntime, tf_models / "keras_file")
    signature = runtime.signatures["serving_default"]
    assert list(signature.outputs) == ["probabilities"]
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    served = runtime.predict(signature, {"features": x})["probabilities"]
    np.testing.assert_allclose(served, tfm.keras_mlp(seed=1).predict_on_batch(x), rtol=1e-5, atol=1e-6)


def test_string_model_returns_bytes(tf_models: Path) -> None:
    runtime = _loaded(TensorFlowRuntime, tf_models / "text")
    signature = runtime.signatures["serving_default"]
    out = runtime.predict(signature, {"text": np.array([b"abc", b"hello"], dtype=object)})
    np.testing.assert_array_equal(out["length"], [3, 5])
    assert list(out["upper_bytes"]) == [b"ABC", b"HELLO"]


def test_classify_and_regress_build_tf_examples(tf_models: Path) -> None:
    runtime = _loaded(TensorFlowRuntime, tf_models / "examples")
    x = np.array([[1.0, 2.0], [0.5, -1.0]], dtype=np.float32)
    scores, values = tfm.example_reference(x)
    examples = [{"x": list(map(float, row))} for row in x]
    result = runtime.classify(runtime.signatures["classify_x"], examples)
    assert result.labels == [["cat", "dog"], ["cat", "dog"]]
    np.testing.assert_allclose(result.scores, scores, rtol=1e-5)
    np.testing.assert_allclose(runtime.regress(runtime.signatures["regress_x"], examples), values)


def test_the_first_models_intra_op_threads_are_given_to_tensorflow(tf_models: Path) -> None:
    # TensorFlow fixes its threads at its first operation, so this runs in a fresh process, as a server is
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import tensorflow as tf\n"
        "from moorings.config import RuntimeOptions\n"
        "from moorings.runtimes.tensorflow import TensorFlowRuntime\n"
        "for threads in (1, 3):\n"
        "    TensorFlowRuntime(Path(sys.argv[1]), RuntimeOptions(intra_op_threads=threads)).load()\n"
        "    print(tf.config.threading.get_intra_op_parallelism_threads())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tf_models / "keras_savedmodel")],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["1", "1"]
    assert "asks for 3 intra-op threads" in out.stderr and "it runs with 1" in out.stderr


def test_an_op_error_names_its_cause(tf_models: Path) -> None:
    runtime = _loaded(TensorFlowRuntime, tf_models / "image")
    signature = runtime.signatures["serving_default"]
    with pytest.raises(InvalidArgument) as info:
        runtime.predict(signature, {"image": np.array([b"hello"], dtype=object)})
    message = info.value.message
    assert message.startswith("the model rejected the input: Unknown image file format.")
    assert "Graph execution" not in message and "[[" not in message and "/" not in message.split("One of")[0]
