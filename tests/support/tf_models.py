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


def keras_sequential(named: bool, seed: int = 0) -> Any:
    """A Sequential digit classifier (64 -> 10); ``named`` names its input ``pixels`` and output ``digit``."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(64,), name="pixels" if named else None),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax", name="digit" if named else None),
        ]
    )


def keras_dict_model(seed: int = 0) -> Any:
    """Dict inputs ``a[2]``, ``b[3]`` and dict outputs ``z[1]``, ``y[2]``, over unnamed layers."""
    keras.utils.set_random_seed(seed)
    a = keras.Input(shape=(2,), name="a")
    b = keras.Input(shape=(3,), name="b")
    joined = keras.layers.Concatenate()([a, b])
    return keras.Model(
        {"b": b, "a": a}, {"z": keras.layers.Dense(1)(joined), "y": keras.layers.Dense(2)(joined)}
    )


class _ImageModule(tf.Module):
    """Encoded images in, the sum of each decoded image's pixels out (``tf.io.decode_image``)."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image")])
    def serve(self, image: Any) -> dict[str, Any]:
        def total(encoded: Any) -> Any:
            pixels = tf.io.decode_image(encoded, channels=1, expand_animations=False)
            return tf.reduce_sum(tf.cast(pixels, tf.float32))

        return {"total": tf.map_fn(total, image, fn_output_signature=tf.float32)}


def write_image_savedmodel(folder: Path) -> None:
    module = _ImageModule()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})


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


class _ScoresOnlyModule(_ExampleModule):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def scores(self, serialized: Any) -> dict[str, Any]:
        return {"scores": tf.reduce_sum(self._features(serialized), axis=1, keepdims=True)}


def write_tf2_example_savedmodel(folder: Path) -> None:
    """As TF2's tf.saved_model.save leaves them: classify/regress functions whose signatures all have
    the predict method name; ``serving_default`` classifies, ``scores`` has no ``classes`` output."""
    module = _ScoresOnlyModule()
    tf.saved_model.save(
        module,
        str(folder),
        signatures={
            "serving_default": module.classify.get_concrete_function(),
            "regress_x": module.regress.get_concrete_function(),
            "scores": module.scores.get_concrete_function(),
            "predict_x": module.predict.get_concrete_function(),
        },
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


def write_tf1_half_plus_three(folder: Path) -> None:
    """A TF1 graph SavedModel as TF1's SavedModelBuilder writes it: ``y = a * x + b`` with variables
    a = 0.5, b = 3 (the shape of TensorFlow Serving's saved_model_half_plus_three)."""
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        a = tf.compat.v1.Variable(0.5, name="a")
        b = tf.compat.v1.Variable(3.0, name="b")
        y = tf.add(tf.multiply(a, x), b, name="y")
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.builder.SavedModelBuilder(str(folder))
            signature = tf.compat.v1.saved_model.signature_def_utils.predict_signature_def(
                inputs={"x": x}, outputs={"y": y}
            )
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature}
            )
            builder.save()
