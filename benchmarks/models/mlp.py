"""The 784-256-256-10 MLP, as ONNX and as a TensorFlow SavedModel with the same weights.

Input ``x`` float32 [-1, 784], output ``y`` float32 [-1, 10] (softmax). Fixed seed.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np

SIZES = (784, 256, 256, 10)


def weights(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in itertools.pairwise(SIZES):
        w = (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        layers.append((w, np.zeros(n_out, dtype=np.float32)))
    return layers


def reference(x: np.ndarray, seed: int = 0) -> np.ndarray:
    h = x.astype(np.float32)
    layers = weights(seed)
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def write_onnx(folder: Path, seed: int = 0) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes, current = [], [], "x"
    layers = weights(seed)
    for i, (w, b) in enumerate(layers):
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [
            helper.make_node("MatMul", [current, f"w{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
        ]
        current = f"a{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"r{i}"]))
            current = f"r{i}"
    nodes.append(helper.make_node("Softmax", [current], ["y"], axis=1))
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", SIZES[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", SIZES[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))


def write_savedmodel(folder: Path, seed: int = 0) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    layers = weights(seed)

    class Mlp(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.params = [(tf.Variable(w), tf.Variable(b)) for w, b in layers]

        @tf.function(input_signature=[tf.TensorSpec([None, SIZES[0]], tf.float32, name="x")])
        def serve(self, x: Any) -> dict[str, Any]:
            h = x
            for i, (w, b) in enumerate(self.params):
                h = tf.matmul(h, w) + b
                if i < len(self.params) - 1:
                    h = tf.nn.relu(h)
            return {"y": tf.nn.softmax(h, axis=1)}

    module = Mlp()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
