"""Hypothesis on the TensorProto codec: round trips through both layouts, and any proto (or any
bytes parsed as one) gives an array of its shape or InvalidArgument, never another error."""

from __future__ import annotations

import contextlib
import math

import numpy as np
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from moorings import dtypes
from moorings.codecs import tensor_proto
from moorings.errors import InvalidArgument
from moorings.protos.tfserving import predict_pb2

NUMERIC = [d for d in dtypes.ALL if not d.is_string]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
VALUE_FIELDS = [
    "float_val",
    "double_val",
    "int_val",
    "int64_val",
    "uint32_val",
    "uint64_val",
    "bool_val",
    "half_val",
]


def new_proto():  # type: ignore[no-untyped-def]
    """An empty TensorProto (TensorFlow Serving's message class, without importing TensorFlow)."""
    return predict_pb2.PredictRequest().inputs["x"]


@st.composite
def numeric_arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(st.sampled_from(NUMERIC))
    return draw(hnp.arrays(dtype.numpy, SHAPES))


@settings(max_examples=200, deadline=None)
@given(numeric_arrays(), st.booleans())
def test_numbers_round_trip(array: np.ndarray, typed: bool) -> None:
    proto = tensor_proto.from_numpy(array, new_proto(), typed=typed)
    again = new_proto()
    again.ParseFromString(proto.SerializeToString())
    back = tensor_proto.to_numpy(again)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=6))
def test_strings_round_trip(values: list[bytes]) -> None:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    back = tensor_proto.to_numpy(tensor_proto.from_numpy(array, new_proto()))
    assert back.tolist() == values


@st.composite
def protos(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    proto = new_proto()
    proto.dtype = draw(st.one_of(st.sampled_from([d.tf_enum for d in dtypes.ALL]), st.integers(0, 30)))
    for size in draw(
        st.lists(st.one_of(st.integers(-2, 6), st.sampled_from([2**31, 2**40, 2**62])), max_size=4)
    ):
        proto.tensor_shape.dim.add().size = size
    proto.tensor_shape.unknown_rank = draw(st.integers(0, 9)) == 0
    if draw(st.booleans()):
        proto.tensor_content = draw(st.binary(max_size=96))
    field = draw(st.sampled_from([*VALUE_FIELDS, "string_val", None]))
    if field == "string_val":
        proto.string_val.extend(draw(st.lists(st.binary(max_size=8), max_size=6)))
    elif field in ("float_val", "double_val"):
        getattr(proto, field).extend(
            draw(st.lists(st.floats(width=32 if field == "float_val" else 64), max_size=6))
        )
    elif field == "bool_val":
        proto.bool_val.extend(draw(st.lists(st.booleans(), max_size=6)))
    elif field is not None:
        low, high = {
            "int_val": (-(2**31), 2**31 - 1),
            "int64_val": (-(2**63), 2**63 - 1),
            "uint32_val": (0, 2**32 - 1),
        }.get(field, (0, 2**64 - 1) if field == "uint64_val" else (-(2**31), 2**31 - 1))
        getattr(proto, field).extend(draw(st.lists(st.integers(low, high), max_size=6)))
    return proto


@settings(max_examples=400, deadline=None)
@given(protos())
def test_any_proto_gives_its_shape_or_invalid_argument(proto) -> None:  # type: ignore[no-untyped-def]
    try:
        array = tensor_proto.to_numpy(proto, "input 'x'")
    except InvalidArgument as exc:
        assert exc.message.startswith("input 'x'")
        return
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    assert array.shape == shape
    assert array.size == math.prod(shape)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parsed_as_a_proto_give_an_array_or_invalid_argument(data: bytes) -> None:
    proto = new_proto()
    try:
        proto.ParseFromString(data)
    except DecodeError:
        return
    with contextlib.suppress(InvalidArgument):
        tensor_proto.to_numpy(proto)
