"""TensorFlow's ``TensorProto`` <-> numpy arrays, as TensorFlow Serving reads and writes them.

Reading accepts both encodings a client may use: the packed ``tensor_content``
bytes (little-endian, what ``tf.make_tensor_proto`` writes) and the typed
``*_val`` fields. As in TensorFlow, a typed field shorter than the shape is
filled up with its last value (so one value broadcasts to the whole tensor) and
an empty one means zeros. ``DT_HALF`` travels in ``half_val`` as the 16-bit
patterns, strings in ``string_val``.

Writing uses ``tensor_content`` for numbers (one copy, no per-element work) and
``string_val`` for strings; ``tf.make_ndarray`` and every TF Serving client read both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from moorings import dtypes
from moorings.codecs.shapes import MAX_DIMS, too_many_elements
from moorings.dtypes import DType
from moorings.errors import InvalidArgument

# TensorProto field that holds the values of each dtype when ``tensor_content`` is empty
_VALUE_FIELD: dict[str, str] = {
    "float32": "float_val",
    "float64": "double_val",
    "int32": "int_val",
    "int16": "int_val",
    "int8": "int_val",
    "uint8": "int_val",
    "uint16": "int_val",
    "int64": "int64_val",
    "uint32": "uint32_val",
    "uint64": "uint64_val",
    "bool": "bool_val",
    "float16": "half_val",
    "string": "string_val",
}

#: the most bytes a tensor sent as a few typed values may fill up to (TensorFlow repeats the last
#: value to the whole shape: one value must not make the server allocate gigabytes)
MAX_FILLED_BYTES = 64 << 20


def proto_dtype(proto: Any, where: str) -> DType:
    """The Moorings DType of a TensorProto's ``dtype`` enum; InvalidArgument if it is not served."""
    try:
        return dtypes.from_tf_enum(int(proto.dtype))
    except KeyError:
        served = ", ".join(d.tf_name for d in dtypes.ALL)
        raise InvalidArgument(
            f"{where} has dtype enum {int(proto.dtype)}, which Moorings does not serve (served: {served})"
        ) from None


def proto_shape(proto: Any, where: str) -> tuple[int, ...]:
    if proto.tensor_shape.unknown_rank:
        raise InvalidArgument(f"{where}: the tensor_shape must be known (unknown_rank is set)")
    dims = proto.tensor_shape.dim
    if len(dims) > MAX_DIMS:
        raise InvalidArgument(
            f"{where}: the tensor_shape has {len(dims)} dimensions; at most {MAX_DIMS} are served"
        )
    shape = tuple(int(d.size) for d in dims)
    if any(d < 0 for d in shape):
        raise InvalidArgument(f"{where}: tensor_shape has a negative dimension {list(shape)}")
    if too_many_elements(shape):
        raise InvalidArgument(f"{where}: tensor_shape {list(shape)} has too many elements")
    return shape


def to_numpy(proto: Any, where: str = "tensor") -> np.ndarray:
    """The numpy array a TensorProto holds; ``where`` names the tensor in error messages."""
    dtype = proto_dtype(proto, where)
    shape = proto_shape(proto, where)
    count = math.prod(shape)
    if proto.tensor_content:
        if dtype.is_string:
            raise InvalidArgument(f"{where}: DT_STRING tensors go in string_val, not tensor_content")
        content = proto.tensor_content
        expected = count * dtype.numpy.itemsize
        if len(content) != expected:
            raise InvalidArgument(
                f"{where}: tensor_content has {len(content)} bytes but shape {list(shape)} of "
                f"{dtype.tf_name} needs {expected}"
            )
        array = np.frombuffer(content, dtype=dtype.little)
        return array.astype(dtype.numpy, copy=False).reshape(shape)  # no copy on little-endian hosts
    values = getattr(proto, _VALUE_FIELD[dtype.name])
    n = len(values)
    if n > count:
        raise InvalidArgument(
            f"{where}: {_VALUE_FIELD[dtype.name]} has {n} values but shape {list(shape)} holds {count}"
        )
    if n < count and count * max(dtype.numpy.itemsize, 8) > MAX_FILLED_BYTES:
        raise InvalidArgument(
            f"{where}: {_VALUE_FIELD[dtype.name]} has {n} values for shape {list(shape)} ({count} elements); "
            f"filling a shape from fewer values is served up to {MAX_FILLED_BYTES >> 20} MiB"
        )
    if dtype.is_string:
        flat = np.empty(count, dtype=object)
        if n:
            flat[:n] = list(values)
            flat[n:] = values[-1]
        else:
            flat[:] = b""
        return flat.reshape(shape)
    if dtype.name == "float16":
        array = np.asarray(values, dtype=np.int64).astype(np.uint16).view(np.float16)
    else:
        try:
            array = np.asarray(values, dtype=dtype.numpy)
        except OverflowError:
            raise InvalidArgument(f"{where}: a value is out of range for {dtype.tf_name}") from None
    if n == count:
        return array.reshape(shape)
    full = np.zeros(count, dtype=dtype.numpy)
    if n:
        full[:n] = array
        full[n:] = array[-1]
    return full.reshape(shape)


def from_numpy(array: np.ndarray, proto: Any, typed: bool = False) -> Any:
    """Fill the (empty) TensorProto ``proto`` with ``array``; returns ``proto``.

    Numbers go in ``tensor_content``, or with ``typed`` in the dtype's ``*_val`` field, as
    TensorFlow Serving writes its Predict outputs (clients that read ``float_val`` need that)."""
    dtype = dtypes.from_numpy(array.dtype)
    proto.dtype = dtype.tf_enum
    dims = proto.tensor_shape.dim
    for size in array.shape:
        dims.add().size = size
    if dtype.is_string:
        proto.string_val.extend(_as_bytes(v) for v in array.reshape(-1).tolist())
    elif not typed:
        proto.tensor_content = np.ascontiguousarray(array, dtype=dtype.little).tobytes()
    elif dtype.name == "float16":
        proto.half_val.extend(array.reshape(-1).view(np.uint16).tolist())
    else:
        getattr(proto, _VALUE_FIELD[dtype.name]).extend(array.reshape(-1).tolist())
    return proto


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return str(value).encode()


def tf_name(dtype: DType) -> str:
    return dtype.tf_name


def check_dtype(
    array: np.ndarray, wanted: DType, where: str, label: Callable[[DType], str] = tf_name
) -> np.ndarray:
    """``array`` as ``wanted``: exact match, or a cast within the same kind of number (int -> float too).

    Strings never become numbers and numbers never become strings or booleans;
    ``label`` writes a dtype's name in the protocol's own words for the error message.
    """
    got = dtypes.from_numpy(array.dtype)
    if got == wanted:
        return array
    if not (got.is_string or wanted.is_string or got.is_bool or wanted.is_bool) and np.can_cast(
        got.numpy, wanted.numpy, "same_kind"
    ):
        return array.astype(wanted.numpy)
    raise InvalidArgument(f"{where} is {label(got)} but the model expects {label(wanted)}")
