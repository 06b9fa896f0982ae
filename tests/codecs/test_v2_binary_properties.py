"""Hypothesis on the V2 binary tensor codec: round trips, tritonclient as the oracle for BYTES,
and arbitrary bytes, shapes and header lengths meet only InvalidArgument."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from moorings import dtypes
from moorings.codecs import v2_binary
from moorings.codecs.shapes import check_shape
from moorings.errors import InvalidArgument
from moorings.types import TensorSpec

NUMERIC = [d for d in dtypes.ALL if not d.is_string]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


@st.composite
def numeric_arrays(draw: st.DrawFn) -> tuple[dtypes.DType, np.ndarray]:
    dtype = draw(st.sampled_from(NUMERIC))
    return dtype, draw(hnp.arrays(dtype.numpy, SHAPES))


@settings(max_examples=150, deadline=None)
@given(numeric_arrays())
def test_numbers_round_trip_bit_for_bit(case: tuple[dtypes.DType, np.ndarray]) -> None:
    dtype, array = case
    raw = v2_binary.to_raw(array)
    assert raw == array.astype(dtype.little).tobytes()
    back = v2_binary.from_raw(raw, dtype, array.shape, "x")
    assert back.shape == array.shape
    assert back.tobytes() == array.tobytes()  # NaN payloads and -0.0 included


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=12))
def test_bytes_elements_match_tritonclient(values: list[bytes]) -> None:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    raw = v2_binary.to_raw(array)
    if values:
        assert raw == serialize_byte_tensor(array).item()
        assert deserialize_bytes_tensor(raw).tolist() == values
    assert v2_binary.from_raw(raw, dtypes.STRING, (len(values),), "t").tolist() == values


@example(b"", dtypes.FLOAT32, [0, 2**31, 2**31])  # numpy refuses such a shape: a 500 once
@settings(max_examples=250, deadline=None)
@given(
    st.binary(max_size=200),
    st.sampled_from(list(dtypes.ALL)),
    st.lists(st.one_of(st.integers(-1, 8), st.integers(0, 2**40)), max_size=4),
)
def test_any_bytes_and_shape_give_an_array_or_invalid_argument(
    raw: bytes, dtype: dtypes.DType, shape: list[int]
) -> None:
    try:  # as the V2 front ends do: the declared shape is checked first
        array = v2_binary.from_raw(raw, dtype, check_shape(shape, "input 'x'"), "x")
    except InvalidArgument as exc:
        assert "input 'x'" in exc.message
        return
    assert array.shape == tuple(shape)


@settings(max_examples=250, deadline=None)
@given(
    st.binary(max_size=100),
    st.one_of(st.none(), st.binary(max_size=24), st.integers().map(lambda i: str(i).encode())),
)
def test_any_header_length_splits_or_is_refused(body: bytes, header: bytes | None) -> None:
    try:
        head, rest = v2_binary.split_body(body, header)
    except InvalidArgument:
        return
    assert bytes(head) + bytes(rest) == body


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64), st.lists(st.integers(0, 80), max_size=4))
def test_blobs_are_cut_in_order_or_refused(rest: bytes, sizes: list[int]) -> None:
    named = [(f"i{n}", size) for n, size in enumerate(sizes)]
    try:
        blobs = v2_binary.take_blobs(named, memoryview(rest))
    except InvalidArgument:
        assert sum(sizes) != len(rest)
        return
    assert sum(sizes) == len(rest)
    assert b"".join(bytes(b) for b in blobs.values()) == rest


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=64),
    st.sampled_from(list(dtypes.ALL)),
    st.one_of(st.none(), st.lists(st.integers(-1, 4), max_size=3)),
)
def test_a_raw_body_gives_an_array_or_invalid_argument(
    raw: bytes, dtype: dtypes.DType, shape: list[int] | None
) -> None:
    spec = TensorSpec("x", dtype, None if shape is None else tuple(shape))
    try:
        array = v2_binary.raw_input(raw, spec)
    except InvalidArgument:
        return
    if not dtype.is_string:
        assert array.size * dtype.numpy.itemsize == len(raw)
