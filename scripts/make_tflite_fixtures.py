"""Writes the small ``.tflite`` test fixtures under tests/fixtures/tflite/ (needs TensorFlow).

The tests that use them need only LiteRT; run this again only to change the models:

    .venv/bin/python scripts/make_tflite_fixtures.py

Each model is converted with ``TFLiteConverter.from_keras_model`` (converting a
``tf.saved_model.save``d module keeps variable-read ops that LiteRT runs into NaNs).
``expected.npz`` holds, per model, inputs and the Keras model's own outputs for them.

- ``two_heads.tflite``: inputs ``features`` float32 [-1, 4] and ``ids`` int32 [-1, 3],
  outputs ``probabilities`` float32 [-1, 3] and ``score`` float32 [-1, 1]; dynamic batch.
- ``batch1.tflite``: input ``x`` float32 [1, 4] -> ``y`` float32 [1, 2]: a fixed batch of one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tflite"


def two_heads() -> keras.Model:
    features = keras.Input(shape=(4,), name="features")
    ids = keras.Input(shape=(3,), dtype="int32", name="ids")
    embedded = keras.layers.Flatten()(keras.layers.Embedding(10, 2)(ids))
    joined = keras.layers.Concatenate()([features, embedded])
    hidden = keras.layers.Dense(8, activation="relu")(joined)
    probabilities = keras.layers.Dense(3, activation="softmax", name="probabilities")(hidden)
    score = keras.layers.Dense(1, name="score")(hidden)
    return keras.Model(
        inputs={"features": features, "ids": ids},
        outputs={"probabilities": probabilities, "score": score},
    )


def batch1() -> keras.Model:
    x = keras.Input(shape=(4,), batch_size=1, name="x")
    # a Reshape to a fixed [1, 2, 2]: resizing this input to a larger batch would break the model
    hidden = keras.layers.Dense(4, activation="tanh")(x)
    folded = keras.layers.Reshape((2, 2))(hidden)
    y = keras.layers.Flatten(name="y")(keras.layers.Dense(1)(folded))
    return keras.Model(inputs={"x": x}, outputs={"y": y})


def convert(model: keras.Model) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    data: bytes = converter.convert()
    return data


def main() -> int:
    keras.utils.set_random_seed(7)
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    expected: dict[str, np.ndarray] = {}

    model = two_heads()
    (OUT / "two_heads.tflite").write_bytes(convert(model))
    features = rng.normal(size=(5, 4)).astype(np.float32)
    ids = rng.integers(0, 10, size=(5, 3)).astype(np.int32)
    out = model({"features": features, "ids": ids})
    expected |= {
        "two_heads.features": features,
        "two_heads.ids": ids,
        "two_heads.probabilities": np.asarray(out["probabilities"]),
        "two_heads.score": np.asarray(out["score"]),
    }

    model = batch1()
    (OUT / "batch1.tflite").write_bytes(convert(model))
    x = rng.normal(size=(3, 4)).astype(np.float32)
    y = np.concatenate([np.asarray(model({"x": x[i : i + 1]})["y"]) for i in range(len(x))])
    expected |= {"batch1.x": x, "batch1.y": y}

    np.savez(OUT / "expected.npz", **expected)
    for file in sorted(OUT.iterdir()):
        print(f"{file.name}: {file.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
