"""Small real ONNX models built with onnx.helper, with a numpy reference for each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


@dataclass(frozen=True)
class Mlp:
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.maximum(x.astype(np.float32) @ self.w1 + self.b1, 0)
        logits = h @ self.w2 + self.b2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def write_mlp(folder: Path, seed: int = 0, n_in: int = 4, hidden: int = 8, n_out: int = 3) -> Mlp:
    """A float32 MLP ``x[-1, n_in] -> probabilities[-1, n_out]`` saved as folder/model.onnx."""
    rng = np.random.default_rng(seed)
    mlp = Mlp(
        rng.normal(size=(n_in, hidden)).astype(np.float32),
        rng.normal(size=hidden).astype(np.float32),
        rng.normal(size=(hidden, n_out)).astype(np.float32),
        rng.normal(size=n_out).astype(np.float32),
    )
    inits = [
        numpy_helper.from_array(mlp.w1, "w1"),
        numpy_helper.from_array(mlp.b1, "b1"),
        numpy_helper.from_array(mlp.w2, "w2"),
        numpy_helper.from_array(mlp.b2, "b2"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["l0"]),
        helper.make_node("Add", ["l0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_in])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", n_out])],
        inits,
    )
    _save(graph, folder)
    return mlp


def write_two_in_two_out(folder: Path) -> None:
    """``a[-1,3] float, b[-1,3] float -> sum[-1,3], product[-1,3]``; plus an int64 ``count`` input."""
    nodes = [
        helper.make_node("Add", ["a", "b"], ["sum"]),
        helper.make_node("Mul", ["a", "b"], ["product"]),
    ]
    graph = helper.make_graph(
        nodes,
        "two",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3]),
        ],
        [
            helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("product", TensorProto.FLOAT, ["batch", 3]),
        ],
    )
    _save(graph, folder)


def write_int_model(folder: Path) -> None:
    """``ids[-1,2] int64 -> doubled[-1,2] int64``."""
    two = numpy_helper.from_array(np.array(2, dtype=np.int64), "two")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["ids", "two"], ["doubled"])],
        "ints",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 2])],
        [helper.make_tensor_value_info("doubled", TensorProto.INT64, ["batch", 2])],
        [two],
    )
    _save(graph, folder)


def _save(graph: onnx.GraphProto, folder: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))


def write_half_plus_two(folder: Path) -> None:
    """TF Serving's test model as ONNX: ``x[-1, 1] float -> y[-1, 1] = 0.5 * x + 2``."""
    inits = [
        numpy_helper.from_array(np.array(0.5, np.float32), "a"),
        numpy_helper.from_array(np.array(2.0, np.float32), "b"),
    ]
    nodes = [helper.make_node("Mul", ["x", "a"], ["ax"]), helper.make_node("Add", ["ax", "b"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "half_plus_two",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])],
        inits,
    )
    _save(graph, folder)


def point_initializer_at(file: Path, name: str, location: str) -> None:
    """Rewrite ``file`` so initializer ``name`` claims its data lives in the external file ``location``."""
    model = onnx.load(str(file))
    (init,) = [i for i in model.graph.initializer if i.name == name]
    init.data_location = TensorProto.EXTERNAL
    del init.external_data[:]
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(init.raw_data) or 16))):
        entry = init.external_data.add()
        entry.key, entry.value = key, value
    init.ClearField("raw_data")
    init.ClearField("float_data")
    file.write_bytes(model.SerializeToString())
