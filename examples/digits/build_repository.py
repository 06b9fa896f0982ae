"""Build the demo model repository: a digit recognizer, trained here, in three runtimes.

    python examples/digits/build_repository.py demo-repository

Trains on scikit-learn's bundled 8x8 digits (nothing is downloaded) and writes

    demo-repository/
      digits-sklearn/1/model.skops       scikit-learn pipeline (skops, no pickle)
      digits-onnx/1/model.onnx           the same pipeline converted with skl2onnx
      digits-keras/1/saved_model.pb      a Keras MLP as a TensorFlow SavedModel
      digits-keras/model.toml            labels: stable -> 1

Each model takes ``pixels``: rows of 64 floats (0-16). An existing repository is
left as it is unless --force is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PIXELS = 64


def load_data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return x.astype(np.float32), y.astype(np.int64)


def train_sklearn(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)


def write_sklearn(model: Any, folder: Path) -> None:
    import skops.io as sio

    folder.mkdir(parents=True)
    sio.dump(model, folder / "model.skops")


def write_onnx(model: Any, folder: Path) -> None:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    onx = to_onnx(
        model,
        initial_types=[("pixels", FloatTensorType([None, PIXELS]))],
        options={id(model): {"zipmap": False}},
        target_opset=17,
    )
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(onx.SerializeToString())


def write_keras(x: np.ndarray, y: np.ndarray, folder: Path) -> None:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from moorings.runtimes.tensorflow import import_tensorflow

    tf = import_tensorflow()  # as the server does: without TensorFlow's CUDA and CPU-build chatter
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(PIXELS,), name="pixels"),
            keras.layers.Rescaling(1 / 16),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=30, batch_size=64, verbose=0)

    class Digits(tf.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        @tf.function(input_signature=[tf.TensorSpec([None, PIXELS], tf.float32, name="pixels")])
        def serve(self, pixels: Any) -> dict[str, Any]:
            probabilities = self.net(pixels, training=False)
            return {"probabilities": probabilities, "digit": tf.argmax(probabilities, axis=1)}

    module = Digits(model)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})


def build(repository: Path, force: bool = False) -> None:
    if repository.exists() and any(repository.iterdir()):
        if not force:
            print(f"{repository} exists; leaving it as it is (use --force to rebuild)")
            return
        shutil.rmtree(repository)
    staging = repository.with_name(repository.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    started = time.perf_counter()
    x, y = load_data()
    print(f"[1/3] scikit-learn pipeline on {len(x)} digits", flush=True)
    model = train_sklearn(x, y)
    write_sklearn(model, staging / "digits-sklearn" / "1")
    print("[2/3] ONNX conversion of the pipeline", flush=True)
    write_onnx(model, staging / "digits-onnx" / "1")
    print("[3/3] Keras MLP as a TensorFlow SavedModel", flush=True)
    write_keras(x, y, staging / "digits-keras" / "1")
    (staging / "digits-keras" / "model.toml").write_text("[labels]\nstable = 1\n")
    repository.parent.mkdir(parents=True, exist_ok=True)
    if repository.exists():
        repository.rmdir()
    staging.rename(repository)
    print(f"built {repository} in {time.perf_counter() - started:.1f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", type=Path)
    parser.add_argument("--force", action="store_true", help="rebuild an existing repository")
    args = parser.parse_args(argv)
    build(args.repository, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
