"""The V2 binary tensor data extension, checked against tritonclient's own serializer."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

from moorings import dtypes
from moorings.codecs import v2_binary
from moorings.errors import InvalidArgument
from moorings.types import TensorSpec


def test_bytes_elements_match_tritonclient() -> None:
    array = np.array([[b"a", b""], ["héllo".encode(), b"\x00\xff"]], dtype=object)
    raw = v2_binary.to_raw(array)
    assert raw == serialize_byte_tensor(array).item()
    back = v2_binary.from_raw(raw, dtypes.STRING, (2, 2), "text")
    assert back.tolist() == array.tolist()
    assert deserialize_bytes_tensor(raw).tolist() == array.reshape(-1).tolist()


@pytest.mark.parametrize("dtype", [d for d in dtypes.ALL if not d.is_string], ids=lambda d: d.v2_name)
def test_numeric_round_trip(dtype: dtypes.DType) -> None:
    array = np.arange(6).reshape(2, 3).astype(dtype.numpy)
    raw = v2_binary.to_raw(array)
    assert raw == array.astype(dtype.numpy.newbyteorder("<")).tobytes()
    np.testing.assert_array_equal(v2_binary.from_raw(raw, dtype, (2, 3), "x"), array)


def test_sizes_that_do_not_fit_are_named() -> None:
    with pytest.raises(InvalidArgument, match=r"input 'x': 7 bytes of data do not fit shape \[2\] of FP32"):
        v2_binary.from_raw(b"\x00" * 7, dtypes.FLOAT32, (2,), "x")
    with pytest.raises(InvalidArgument, match="BYTES element 0 claims 9 bytes"):
        v2_binary.from_raw(b"\x09\x00\x00\x00abc", dtypes.STRING, (1,), "t")
    with pytest.raises(InvalidArgument, match="ends before element 1 of 2"):
        v2_binary.from_raw(b"\x01\x00\x00\x00a", dtypes.STRING, (2,), "t")
    with pytest.raises(InvalidArgument, match="3 bytes left over"):
        v2_binary.from_raw(b"\x01\x00\x00\x00abcd", dtypes.STRING, (1,), "t")


def test_split_body_and_blobs() -> None:
    head, rest = v2_binary.split_body(b'{"a":1}XXXXYY', b"7")
    assert head == b'{"a":1}' and bytes(rest) == b"XXXXYY"
    blobs = v2_binary.take_blobs([("x", 4), ("y", 2)], rest)
    assert bytes(blobs["x"]) == b"XXXX" and bytes(blobs["y"]) == b"YY"
    with pytest.raises(InvalidArgument, match="only 2 bytes of binary data are left"):
        v2_binary.take_blobs([("x", 4), ("y", 4)], rest)
    with pytest.raises(InvalidArgument, match="2 bytes of binary data that no input claims"):
        v2_binary.take_blobs([("x", 4)], rest)
    with pytest.raises(InvalidArgument, match="but the body has only 13 bytes"):
        v2_binary.split_body(b'{"a":1}XXXXYY', b"99")
    with pytest.raises(InvalidArgument, match="must be a number of bytes"):
        v2_binary.split_body(b"{}", b"-1")
    assert v2_binary.split_body(b"{}", None)[0] == b"{}"


@pytest.mark.parametrize(
    ("shape", "count", "expected"),
    [(None, 6, (6,)), ((-1, 3), 6, (2, 3)), ((-1, -1, 2), 6, (1, 3, 2)), ((2, 3), 6, (2, 3))],
)
def test_raw_input_takes_its_shape_from_the_spec(
    shape: tuple[int, ...] | None, count: int, expected: tuple[int, ...]
) -> None:
    spec = TensorSpec("x", dtypes.FLOAT32, shape)
    array = v2_binary.raw_input(np.arange(count, dtype="<f4").tobytes(), spec)
    assert array.shape == expected and array.reshape(-1).tolist() == list(range(count))


def test_raw_input_of_bytes_is_one_element() -> None:
    array = v2_binary.raw_input(b"\x89PNG...", TensorSpec("image", dtypes.STRING, (-1, 1)))
    assert array.shape == (1, 1) and array[0, 0] == b"\x89PNG..."
    with pytest.raises(InvalidArgument, match="carries one BYTES element"):
        v2_binary.raw_input(b"ab", TensorSpec("image", dtypes.STRING, (2,)))
