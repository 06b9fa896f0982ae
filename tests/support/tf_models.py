"""Small TensorFlow and Keras models: SavedModels with predict, classify and regress signatures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import tensorflow as tf


def keras_mlp(seed: int = 0) -> Any:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(4,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(hidden)
    return keras.Model(inputs, outputs)


def write_keras_savedmodel(model: Any, folder: Path) -> None:
    """Keras 3 ``model.export``: one signature ``serving_default`` with output ``output_0``."""
    model.export(str(folder), verbose=False)


def write_keras_file(model: Any, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")


class _TextModule(tf.Module):
    """String input, several outputs: the length of each text and its upper-cased bytes."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text: Any) -> dict[str, Any]:
        return {"length": tf.strings.length(text), "upper_bytes": tf.strings.upper(text)}


def write_text_savedmodel(folder: Path) -> None:
    module = _TextModule()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})


class _ExampleModule(tf.Module):
    """Classify and regress signatures over tf.Example protos with a float feature ``x`` of 2 values."""

    def __init__(self) -> None:
        super().__init__()
        self.w = tf.constant([[1.0, -1.0], [2.0, 0.5]])

    def _features(self, serialized: Any) -> Any:
        parsed = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([2], tf.float32)})
        return parsed["x"]

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(self, serialized: Any) -> dict[str, Any]:
        scores = tf.nn.softmax(tf.matmul(self._features(serialized), self.w))
        n = tf.shape(scores)[0]
        classes = tf.tile(tf.constant([["cat", "dog"]]), [n, 1])
        return {"classes": classes, "scores": scores}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress(self, serialized: Any) -> dict[str, Any]:
        x = self._features(serialized)
        return {"outputs": tf.reduce_sum(x, axis=1) * 2.0}

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def predict(self, x: Any) -> dict[str, Any]:
        return {"scores": tf.nn.softmax(tf.matmul(x, self.w))}


def example_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classify scores, regress outputs) that _ExampleModule computes for features ``x``."""
    w = np.array([[1.0, -1.0], [2.0, 0.5]], dtype=np.float32)
    logits = x.astype(np.float32) @ w
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), x.sum(axis=1) * 2.0


def write_example_savedmodel(folder: Path) -> None:
    module = _ExampleModule()
    classify = module.classify.get_concrete_function()
    regress = module.regress.get_concrete_function()
    tf.saved_model.save(
        module,
        str(folder),
        signatures={
            "serving_default": module.predict.get_concrete_function(),
            "classify_x": classify,
            "regress_x": regress,
        },
    )
    _set_method_names(
        folder, {"classify_x": "tensorflow/serving/classify", "regress_x": "tensorflow/serving/regress"}
    )


def _set_method_names(folder: Path, methods: dict[str, str]) -> None:
    """tf.saved_model.save writes every signature as 'predict'; classify/regress need their method names."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = folder / "saved_model.pb"
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(path.read_bytes())
    for graph in proto.meta_graphs:
        for key, method in methods.items():
            graph.signature_def[key].method_name = method
    path.write_bytes(proto.SerializeToString())
