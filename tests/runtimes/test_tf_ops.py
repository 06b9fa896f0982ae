"""SavedModels whose signatures run file-system or side-effect ops: refused unless model.toml allows them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moorings.config import RuntimeOptions, parse_model_toml
from moorings.core.loader import Loader
from moorings.core.manager import Manager
from moorings.errors import InvalidArgument, LoadError, Unavailable
from moorings.repository.source import LocalSource
from moorings.runtimes.tensorflow import TensorFlowRuntime
from moorings.types import ModelRef

pytestmark = pytest.mark.tensorflow


def write_file_reader(folder: Path) -> None:
    """A SavedModel whose signature reads the files it is given (``tf.io.read_file`` inside a
    ``map_fn``, so the op sits in a loop body: a function nested in a function)."""
    import tensorflow as tf

    class Reader(tf.Module):
        def __init__(self) -> None:
            self.scale = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, paths: tf.Tensor) -> dict[str, tf.Tensor]:
            contents = tf.map_fn(tf.io.read_file, paths)
            return {"contents": contents, "scaled": self.scale * 2.0}

    reader = Reader()
    tf.saved_model.save(reader, str(folder), signatures={"serving_default": reader.serve})


def write_printer(folder: Path) -> None:
    import tensorflow as tf

    class Printer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            tf.print("seen", x)
            return {"y": x + 1.0}

    printer = Printer()
    tf.saved_model.save(printer, str(folder), signatures={"serving_default": printer.serve})


def test_a_signature_reading_files_is_refused_and_then_allowed(tmp_path: Path) -> None:
    write_file_reader(tmp_path / "reader")
    with pytest.raises(LoadError) as caught:
        TensorFlowRuntime(tmp_path / "reader", RuntimeOptions()).load()
    message = caught.value.message
    assert "op ReadFile" in message and "signature 'serving_default'" in message
    assert 'allowed_ops = ["ReadFile"]' in message
    runtime = TensorFlowRuntime(tmp_path / "reader", RuntimeOptions(allowed_ops=("ReadFile",)))
    runtime.load()
    secret = tmp_path / "data.txt"
    secret.write_bytes(b"file contents")
    signature = runtime.signatures["serving_default"]
    out = runtime.predict(signature, {"paths": np.array([str(secret).encode()], dtype=object)})
    assert out["contents"].tolist() == [b"file contents"]


def test_print_is_refused_unless_allowed(tmp_path: Path) -> None:
    write_printer(tmp_path / "printer")
    with pytest.raises(LoadError, match="op PrintV2"):
        TensorFlowRuntime(tmp_path / "printer", RuntimeOptions(allowed_ops=("ReadFile",))).load()
    TensorFlowRuntime(tmp_path / "printer", RuntimeOptions(allowed_ops=("PrintV2",))).load()


def write_tf1_writer(folder: Path, in_init_op: bool) -> None:
    """A TF1 graph whose signature (or, ``in_init_op``, whose main op run at load) writes a file."""
    import tensorflow as tf

    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.string, [], name="x")
        write = tf.io.write_file(tf.constant("/tmp/never-written-by-moorings-tests"), x)
        with tf.control_dependencies([] if in_init_op else [write]):
            y = tf.identity(x, name="y")
        with tf.compat.v1.Session() as session:
            builder = tf.compat.v1.saved_model.builder.SavedModelBuilder(str(folder))
            signature = tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(
                inputs={"x": x}, outputs={"y": y}
            )
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature},
                main_op=write if in_init_op else None,
            )  # fmt: skip
            builder.save()


@pytest.mark.parametrize("in_init_op", [False, True])
def test_tf1_graphs_are_walked_from_signatures_and_the_main_op(tmp_path: Path, in_init_op: bool) -> None:
    write_tf1_writer(tmp_path / "writer", in_init_op)
    with pytest.raises(LoadError) as caught:
        TensorFlowRuntime(tmp_path / "writer", RuntimeOptions()).load()
    assert "op WriteFile" in caught.value.message
    where = "the init op" if in_init_op else "signature 'serving_default'"
    assert where in caught.value.message
    assert not Path("/tmp/never-written-by-moorings-tests").exists()


def test_ordinary_savedmodels_are_not_refused(tf_models: Path) -> None:
    """Their graphs hold SaveV2/RestoreV2 for checkpoints, which no signature reaches."""
    for name in ("keras_savedmodel", "text", "examples", "examples_tf2"):
        TensorFlowRuntime(tf_models / name, RuntimeOptions()).load()


def test_the_model_toml_key_through_the_manager(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_file_reader(repo / "reader" / "1")
    manager = Manager(LocalSource(repo), Loader(repo))
    try:
        manager.poll_once()
        manager.wait_until_idle(120)
        with pytest.raises(Unavailable, match=r"op ReadFile .*allowed_ops"):
            manager.acquire(ModelRef("reader"))
        (repo / "reader" / "model.toml").write_text('[runtime]\nallowed_ops = ["ReadFile"]\n')
        manager.poll_once()
        manager.wait_until_idle(120)
        manager.acquire(ModelRef("reader")).release()
    finally:
        manager.stop()


def test_allowed_ops_must_be_a_list_of_names() -> None:
    assert parse_model_toml('[runtime]\nallowed_ops = ["PrintV2"]').runtime.allowed_ops == ("PrintV2",)
    with pytest.raises(InvalidArgument, match=r"runtime\.allowed_ops"):
        parse_model_toml('[runtime]\nallowed_ops = "PrintV2"')
