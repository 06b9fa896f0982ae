"""The .npy reader of binary search bodies: what np.save writes reads back; anything else is a 400."""

from __future__ import annotations

import numpy as np
import pytest

from moorings.errors import InvalidArgument
from moorings.search.npy import read_npy, write_npy


@pytest.mark.parametrize("dtype", ["<f4", "<f2", "<f8"])
@pytest.mark.parametrize("shape", [(5,), (3, 5), (0, 5)])
def test_round_trip(dtype: str, shape: tuple[int, ...]) -> None:
    array = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    read = read_npy(write_npy(array))
    assert read.dtype == np.dtype(dtype) and read.shape == shape and (read == array).all()


def test_reads_format_version_2_without_copying() -> None:
    import io

    array = np.ones((2, 3), np.float32)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=(2, 0))
    data = buffer.getvalue()
    read = read_npy(data)
    assert (read == array).all() and not read.flags.writeable  # a view of the body


def _npy_with_header(header: str, data: bytes = b"") -> bytes:
    raw = header.encode("latin-1")
    return b"\x93NUMPY\x01\x00" + len(raw).to_bytes(2, "little") + raw + data


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "must start with the bytes"),
        (b'{"k": 10}', "must start with the bytes"),
        (b"\x93NUMPY\x09\x00", "version 9 is not supported"),
        (b"\x93NUMPY\x01", "preamble"),
        (b"\x93NUMPY\x01\x00\x05", "preamble"),
        (b"\x93NUMPY\x02\x00\xff\xff\xff\x00", "at most 10000"),
        (_npy_with_header("{'descr': '<f4'", b"")[:-3], "ends inside its .npy header"),
        (_npy_with_header("__import__('os')"), "not a Python dict literal"),
        (_npy_with_header("{'descr': '<f4', 'shape': (2,)}"), "exactly 'descr'"),
        (_npy_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"), "dtype '|O'"),
        (_npy_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,)}"), "little-endian"),
        (_npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (1,)}"), "dtype '<i4'"),
        (_npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}"), "C order"),
        (_npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1)}"), "(queries, dim)"),
        (_npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2)}"), "(queries, dim)"),
        (_npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", b"\0" * 4), "4 bytes"),
        (_npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", b"\0" * 8), "8 bytes"),
    ],
)
def test_rejects_what_is_not_a_query_matrix(body: bytes, message: str) -> None:
    with pytest.raises(InvalidArgument, match=r"the \.npy body") as info:
        read_npy(body)
    assert message in info.value.message


def test_never_unpickles() -> None:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidArgument, match="dtype '\\|O'"):
        read_npy(buffer.getvalue())
