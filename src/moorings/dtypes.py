"""Tensor element types and their names in every format Moorings speaks.

One table maps a canonical name to its numpy dtype, TensorFlow's ``DataType``
enum (name and number), the KServe V2 datatype and the ONNX type string.
String tensors are numpy ``object`` arrays holding ``bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class DType:
    """One row of the table below; the rows are the only instances, so equality is identity."""

    name: str
    numpy: np.dtype[np.generic]
    tf_name: str
    tf_enum: int
    v2_name: str
    onnx_name: str
    #: ``numpy`` in little-endian byte order: how raw tensor bytes (V2 binary, gRPC) are laid out
    little: np.dtype[np.generic]

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return by_name, (self.name,)  # unpickled as the table's own row

    @property
    def is_string(self) -> bool:
        return self.name == "string"

    @property
    def is_bool(self) -> bool:
        return self.name == "bool"

    @property
    def is_integer(self) -> bool:
        return self.numpy.kind in "iu"

    @property
    def is_float(self) -> bool:
        return self.numpy.kind == "f"


def _dt(name: str, np_dtype: object, tf_name: str, tf_enum: int, v2: str, onnx: str) -> DType:
    numpy = np.dtype(np_dtype)  # type: ignore[call-overload]
    return DType(name, numpy, tf_name, tf_enum, v2, onnx, numpy.newbyteorder("<"))


ALL: tuple[DType, ...] = (
    _dt("float32", np.float32, "DT_FLOAT", 1, "FP32", "tensor(float)"),
    _dt("float64", np.float64, "DT_DOUBLE", 2, "FP64", "tensor(double)"),
    _dt("int32", np.int32, "DT_INT32", 3, "INT32", "tensor(int32)"),
    _dt("uint8", np.uint8, "DT_UINT8", 4, "UINT8", "tensor(uint8)"),
    _dt("int16", np.int16, "DT_INT16", 5, "INT16", "tensor(int16)"),
    _dt("int8", np.int8, "DT_INT8", 6, "INT8", "tensor(int8)"),
    _dt("string", object, "DT_STRING", 7, "BYTES", "tensor(string)"),
    _dt("int64", np.int64, "DT_INT64", 9, "INT64", "tensor(int64)"),
    _dt("bool", np.bool_, "DT_BOOL", 10, "BOOL", "tensor(bool)"),
    _dt("uint16", np.uint16, "DT_UINT16", 17, "UINT16", "tensor(uint16)"),
    _dt("float16", np.float16, "DT_HALF", 19, "FP16", "tensor(float16)"),
    _dt("uint32", np.uint32, "DT_UINT32", 22, "UINT32", "tensor(uint32)"),
    _dt("uint64", np.uint64, "DT_UINT64", 23, "UINT64", "tensor(uint64)"),
)

_BY_NAME = {d.name: d for d in ALL}
_BY_TF_ENUM = {d.tf_enum: d for d in ALL}
_BY_V2 = {d.v2_name: d for d in ALL}
_BY_ONNX = {d.onnx_name: d for d in ALL}
_BY_NUMPY = {d.numpy: d for d in ALL if d.name != "string"}

FLOAT32 = _BY_NAME["float32"]
FLOAT64 = _BY_NAME["float64"]
INT64 = _BY_NAME["int64"]
STRING = _BY_NAME["string"]
BOOL = _BY_NAME["bool"]


def by_name(name: str) -> DType:
    return _BY_NAME[name]


def from_numpy(dtype: np.dtype[np.generic] | type) -> DType:
    """The DType of a numpy dtype; unicode and bytes arrays count as strings."""
    dt = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
    found = _BY_NUMPY.get(dt)
    if found is not None:
        return found
    if dt.kind in "OSU":
        return STRING
    raise KeyError(f"unsupported numpy dtype {dt}")


def from_tf_enum(value: int) -> DType:
    return _BY_TF_ENUM[value]


def from_v2(name: str) -> DType:
    return _BY_V2[name]


def from_onnx(type_string: str) -> DType:
    return _BY_ONNX[type_string]
