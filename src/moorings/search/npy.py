"""Query vectors as a binary ``.npy`` array: the cheap form of a batch search body.

A JSON batch of 100 x 128 floats is ~150 kB of text that the server parses into Python floats
and back into an array; the same batch as ``.npy`` is 51 kB read with no copy. Only what a query
matrix can be is accepted: a little-endian float32, float16 or float64 array of one or two
dimensions in C order (numpy's ``np.save`` of such an array). Object arrays (pickles) never are.
"""

from __future__ import annotations

import ast
import functools
import io
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from moorings.errors import InvalidArgument

MAGIC = b"\x93NUMPY"
MAX_HEADER = 10_000  # numpy's own limit for a header it reads without being told it is safe
DTYPES: dict[str, np.dtype[np.floating[Any]]] = {
    "<f4": np.dtype(np.float32),
    "<f2": np.dtype(np.float16),
    "<f8": np.dtype(np.float64),
}
HEADER_KEYS = {"descr", "fortran_order", "shape"}
#: the most elements a query array may declare (its dimensions other than 0 are bounded too)
MAX_ELEMENTS = 1 << 31


def read_npy(data: bytes | bytearray, what: str = "the .npy body") -> npt.NDArray[Any]:
    """The array stored in ``data`` (a read-only view of it; float16/float64 are not converted)."""
    if data[:6] != MAGIC:
        raise InvalidArgument(f"{what} is not a .npy array: it must start with the bytes \\x93NUMPY")
    major = data[6] if len(data) > 6 else 0
    if major not in (1, 2, 3):
        raise InvalidArgument(f"{what}: .npy format version {major} is not supported (1, 2 or 3 are)")
    size_bytes = 2 if major == 1 else 4
    start = 8 + size_bytes
    if len(data) < start:
        raise InvalidArgument(f"{what} ends inside its .npy preamble")
    header_len = int.from_bytes(data[8:start], "little")
    if header_len > MAX_HEADER:
        raise InvalidArgument(f"{what}: the .npy header is {header_len} bytes; at most {MAX_HEADER} are read")
    end = start + header_len
    if len(data) < end:
        raise InvalidArgument(f"{what} ends inside its .npy header")
    dtype, shape = _parsed_header(bytes(data[start:end]), "utf-8" if major == 3 else "latin-1", what)
    count = int(np.prod(shape)) if shape else 1
    expected = count * dtype.itemsize
    if len(data) - end != expected:
        raise InvalidArgument(
            f"{what}: the header announces shape {shape} ({expected} bytes of data) but "
            f"{len(data) - end} bytes follow it"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=end).reshape(shape)
    array.flags.writeable = False  # a view of a bytearray would be writable
    return array


@functools.lru_cache(maxsize=128)
def _parsed_header(
    raw: bytes, encoding: str, what: str
) -> tuple[np.dtype[np.floating[Any]], tuple[int, ...]]:
    """The dtype and shape a header announces. Cached: a client sends the same few headers over and
    over, and parsing one compiles a Python literal (headers that raise are not cached)."""
    return _layout(_header(raw, encoding, what), what)


def _header(raw: bytes, encoding: str, what: str) -> dict[str, Any]:
    try:
        header = ast.literal_eval(raw.decode(encoding))
    except (UnicodeDecodeError, ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise InvalidArgument(f"{what}: the .npy header is not a Python dict literal") from None
    if not isinstance(header, dict) or set(header) != HEADER_KEYS:
        raise InvalidArgument(
            f"{what}: the .npy header must hold exactly 'descr', 'fortran_order' and 'shape'"
        )
    return header


def _layout(header: dict[str, Any], what: str) -> tuple[np.dtype[np.floating[Any]], tuple[int, ...]]:
    descr = header["descr"]
    if not isinstance(descr, str) or descr not in DTYPES:
        raise InvalidArgument(
            f"{what}: dtype {str(descr)[:40]!r} is not accepted; send little-endian float32 ('<f4'), "
            "float16 ('<f2') or float64 ('<f8')"
        )
    if header["fortran_order"] is not False:
        raise InvalidArgument(f"{what}: the array must be in C order (fortran_order False)")
    shape = header["shape"]
    if (
        not isinstance(shape, tuple)
        or len(shape) not in (1, 2)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise InvalidArgument(
            f"{what}: the shape must be (dim,) for one query or (queries, dim) for a batch, "
            f"got {str(shape)[:60]}"
        )
    if math.prod(n for n in shape if n) > MAX_ELEMENTS:  # numpy refuses such shapes, even with a 0
        raise InvalidArgument(f"{what}: shape {str(shape)[:60]} has too many elements")
    return DTYPES[descr], shape


def write_npy(array: npt.NDArray[Any]) -> bytes:
    """``array`` as ``.npy`` bytes (what ``np.save`` writes)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()
