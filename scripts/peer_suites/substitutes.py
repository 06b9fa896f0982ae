"""ONNX stand-ins for the peers' test models that Moorings cannot load as they are.

Triton's QA tests use a few models written for Triton's Python backend or for
PyTorch (``simple_identity``, ``string_identity``, ``pt_identity``,
``input_all_required``). The tests check protocol behaviour (shapes, byte sizes,
missing inputs), not the backend, so each is replaced by an ONNX graph with the
same name, inputs, outputs, datatypes and shapes as the model's
``config.pbtxt`` declares (a leading -1 where ``max_batch_size`` > 0).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import onnx
from onnx import TensorProto, helper

Dims = list[int | str]


def _value(name: str, elem: int, dims: Dims) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, dims)


def _save(graph: onnx.GraphProto, folder: Path) -> None:
    # opset 13 / IR 8: old enough for every onnxruntime the venv may hold
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))


def identity(folder: Path, elem: int, dims: Dims) -> None:
    """INPUT0 -> OUTPUT0 unchanged."""
    node = helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])
    graph = helper.make_graph(
        [node], "identity", [_value("INPUT0", elem, dims)], [_value("OUTPUT0", elem, dims)]
    )
    _save(graph, folder)


def three_required(folder: Path) -> None:
    """INPUT0..2 (FP32 [-1]) required; OUTPUT0 = [1.0] (Triton's input_all_required answers that)."""
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    # every input feeds the output, so none can be pruned as unused
    nodes = [helper.make_node("ReduceSum", [f"INPUT{i}"], [f"s{i}"], keepdims=1) for i in range(3)]
    nodes += [
        helper.make_node("Add", ["s0", "s1"], ["s01"]),
        helper.make_node("Add", ["s01", "s2"], ["s012"]),
        helper.make_node("Mul", ["s012", "zero"], ["z"]),
        helper.make_node("Add", ["z", "one"], ["OUTPUT0"]),
    ]
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    graph = helper.make_graph(
        nodes,
        "input_all_required",
        [_value(f"INPUT{i}", TensorProto.FLOAT, ["n"]) for i in range(3)],
        [_value("OUTPUT0", TensorProto.FLOAT, [1])],
        initializer=[one, zero],
    )
    _save(graph, folder)


SUBSTITUTES: dict[str, Callable[[Path], None]] = {
    # docs/examples/model_repository/simple_identity: python, max_batch_size 8, STRING [-1]
    "simple_identity": lambda d: identity(d, TensorProto.STRING, ["b", "n"]),
    # L0_http's sed of the same config: TYPE_STRING -> TYPE_INT64
    "simple_identity_int64": lambda d: identity(d, TensorProto.INT64, ["b", "n"]),
    # qa/python_models/string_identity: python, max_batch_size 0, STRING [1], which L0_grpc/test.sh
    # seds to [-1] for GrpcTest
    "string_identity": lambda d: identity(d, TensorProto.STRING, ["n"]),
    # L0_input_validation's pt_identity: pytorch, max_batch_size 8, FP32 [8]
    "pt_identity": lambda d: identity(d, TensorProto.FLOAT, ["b", 8]),
    # L0_input_validation/models/input_all_required: python, max_batch_size 0, 3 x FP32 [-1]
    "input_all_required": three_required,
}


def write(name: str, version_dir: Path) -> None:
    """Write the stand-in for ``name`` as ``version_dir/model.onnx``."""
    SUBSTITUTES[name](version_dir)
