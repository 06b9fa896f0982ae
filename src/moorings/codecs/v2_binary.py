"""The KServe V2 binary tensor data extension, and raw tensor bytes shared with gRPC.

Over HTTP, a request or response body is a JSON header followed by the raw
bytes of some tensors; the ``Inference-Header-Content-Length`` HTTP header
says where the JSON ends. A tensor carried this way has
``parameters.binary_data_size`` instead of ``data``, and the blobs follow in
the order of the tensors in the JSON. Outputs are sent this way when the
request sets ``parameters.binary_data_output`` or the output's own
``parameters.binary_data``.

Raw bytes are the tensor's elements in row-major order, little-endian; a BYTES
element is a 4-byte little-endian length followed by that many bytes. The gRPC
``raw_input_contents`` / ``raw_output_contents`` use the same layout.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from moorings.dtypes import DType
from moorings.errors import InvalidArgument
from moorings.types import TensorSpec

HEADER_LENGTH = b"inference-header-content-length"
_LENGTH = struct.Struct("<I")


def split_body(body: bytes | bytearray, header_length: bytes | None) -> tuple[bytes | bytearray, memoryview]:
    """(JSON header, binary rest) of a request body; the whole body is JSON when there is no header."""
    if header_length is None:
        return body, memoryview(b"")
    if not header_length.isdigit():
        text = header_length.decode("latin-1").strip()
        if not text.isdigit():
            raise InvalidArgument(
                f"Inference-Header-Content-Length must be a number of bytes, got {text[:40]!r}"
            )
        header_length = text.encode()
    size = int(header_length)
    if size > len(body):
        raise InvalidArgument(
            f"Inference-Header-Content-Length is {size} but the body has only {len(body)} bytes"
        )
    view = memoryview(body)
    return bytes(view[:size]), view[size:]


def check_size(size: int, dtype: DType, shape: tuple[int, ...], where: str) -> None:
    """InvalidArgument unless ``size`` bytes are what ``shape`` of ``dtype`` takes (BYTES: any size)."""
    if dtype.is_string:
        return
    expected = math.prod(shape) * dtype.numpy.itemsize
    if size != expected:
        raise InvalidArgument(
            f"{where}: {size} bytes of data do not fit shape {list(shape)} of {dtype.v2_name} "
            f"({expected} bytes)"
        )


def from_raw(raw: bytes | memoryview, dtype: DType, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The array the raw bytes of input ``name`` hold; InvalidArgument when they do not fit the shape."""
    if dtype.is_string:
        return _parse_bytes_elements(raw, math.prod(shape), f"input {name!r}").reshape(shape)
    if len(raw) != math.prod(shape) * dtype.numpy.itemsize:
        check_size(len(raw), dtype, shape, f"input {name!r}")
    return view(raw, dtype, shape)


def view(raw: bytes | memoryview, dtype: DType, shape: tuple[int, ...]) -> np.ndarray:
    """The array of a number dtype that raw bytes of the right size (already checked) hold."""
    array = np.frombuffer(raw, dtype=dtype.little).reshape(shape)
    if not dtype.numpy.isnative:  # pragma: no cover - big-endian hosts only
        array = array.astype(dtype.numpy)
    return array


def _parse_bytes_elements(raw: bytes | memoryview, count: int, where: str) -> np.ndarray:
    view = memoryview(raw)
    if count * _LENGTH.size > len(view):  # every element has its 4-byte length: refuse before allocating
        raise InvalidArgument(
            f"{where}: the BYTES data ends before element {len(view) // _LENGTH.size} of {count} "
            f"({len(view)} bytes; each element takes at least {_LENGTH.size})"
        )
    flat = np.empty(count, dtype=object)
    offset = 0
    for i in range(count):
        if offset + 4 > len(view):
            raise InvalidArgument(f"{where}: the BYTES data ends before element {i} of {count}")
        (size,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if offset + size > len(view):
            raise InvalidArgument(f"{where}: BYTES element {i} claims {size} bytes past the end of the data")
        flat[i] = bytes(view[offset : offset + size])
        offset += size
    if offset != len(view):
        raise InvalidArgument(f"{where}: {len(view) - offset} bytes left over after {count} BYTES elements")
    return flat


def to_raw(array: np.ndarray) -> bytes:
    """The raw bytes of an array: little-endian elements, or length-prefixed BYTES elements."""
    if array.dtype == object or array.dtype.kind in "SU":
        parts = []
        for value in array.reshape(-1).tolist():
            item = value if isinstance(value, bytes) else str(value).encode()
            parts.append(_LENGTH.pack(len(item)))
            parts.append(item)
        return b"".join(parts)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return np.ascontiguousarray(array).tobytes()


def take_blobs(sizes: list[tuple[str, int]], rest: memoryview) -> dict[str, memoryview]:
    """Cut the binary part of a body into one blob per (input name, binary_data_size), in order."""
    blobs: dict[str, memoryview] = {}
    offset = 0
    for name, size in sizes:
        if offset + size > len(rest):
            raise InvalidArgument(
                f"input {name!r} declares binary_data_size {size} but only {len(rest) - offset} "
                "bytes of binary data are left in the body"
            )
        blobs[name] = rest[offset : offset + size]
        offset += size
    if offset != len(rest):
        raise InvalidArgument(
            f"the body has {len(rest) - offset} bytes of binary data that no input claims "
            "(check parameters.binary_data_size)"
        )
    return blobs


def raw_input(raw: bytes | memoryview, spec: TensorSpec) -> np.ndarray:
    """The one input of a raw binary request (the whole body is its data), shaped by its spec.

    BYTES: the body is one element. Numbers: the body holds ``n`` elements of the spec's dtype;
    the last free dimension (-1) of the spec's shape takes what the fixed ones leave, any other
    free dimension is 1; a spec of unknown rank gets shape ``[n]``.
    """
    where = f"input {spec.name!r}"
    if spec.dtype.is_string:
        shape = (1,) if spec.shape is None else tuple(1 for _ in spec.shape)
        if spec.shape is not None and any(d not in (1, -1) for d in spec.shape):
            raise InvalidArgument(
                f"{where} has shape {spec.describe_shape()}; a raw binary request carries one BYTES element"
            )
        flat = np.empty(1, dtype=object)
        flat[0] = bytes(raw)
        return flat.reshape(shape)
    size = spec.dtype.numpy.itemsize
    if len(raw) % size:
        raise InvalidArgument(
            f"{where}: {len(raw)} bytes are not a whole number of {spec.dtype.v2_name} elements "
            f"({size} bytes each)"
        )
    count = len(raw) // size
    if spec.shape is None:
        return view(raw, spec.dtype, (count,))
    fixed = math.prod(d for d in spec.shape if d != -1)
    free = [i for i, d in enumerate(spec.shape) if d == -1]
    if (not free and count != fixed) or (free and (fixed == 0 or count % fixed)):
        raise InvalidArgument(
            f"{where}: {count} {spec.dtype.v2_name} elements do not fit shape {spec.describe_shape()}"
        )
    dims = [1 if d == -1 else d for d in spec.shape]
    if free:
        dims[free[-1]] = count // fixed
    return view(raw, spec.dtype, tuple(dims))
