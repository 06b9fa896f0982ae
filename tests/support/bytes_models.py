"""A model that reads bytes: ``data[-1] string -> data_bytes[-1] string``, the same bytes back (ONNX).

Its output's name ends in ``_bytes``, so both REST APIs answer it as ``{"b64": ...}``
(TF Serving) or binary-safe data: a test sees exactly the bytes the model got.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def write_bytes_echo(folder: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["data"], ["data_bytes"])],
        "bytes_echo",
        [helper.make_tensor_value_info("data", TensorProto.STRING, ["batch"])],
        [helper.make_tensor_value_info("data_bytes", TensorProto.STRING, ["batch"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
