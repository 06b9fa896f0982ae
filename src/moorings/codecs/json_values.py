"""JSON values <-> numpy arrays, checked against a tensor spec.

Shared by the JSON formats (TensorFlow Serving's row and columnar formats).
Strings travel as UTF-8 text or as ``{"b64": "..."}`` objects (or as the bytes
that an input URL's ``{"url": "..."}`` was replaced with, see :mod:`moorings.fetch`);
string tensors are numpy object arrays of ``bytes``.
"""

from __future__ import annotations

import base64
import binascii
import math
import warnings
from typing import Any

import numpy as np

from moorings.codecs.json_fast import first_bool
from moorings.codecs.shapes import MAX_DIMS
from moorings.dtypes import DType
from moorings.errors import InvalidArgument


def to_array(value: Any, dtype: DType, where: str) -> np.ndarray:
    """Convert a (nested) JSON value into an array of ``dtype``; ``where`` names it in errors.

    Refused (InvalidArgument naming ``where`` and the element): booleans among
    numbers, non-integers or out-of-range values for an integer dtype, and
    finite values that overflow a float dtype (3.5e38 in float32 would be inf).
    """
    if type(value) is np.ndarray and value.dtype.kind == "f" and value.size and dtype.numpy.kind == "f":
        return _to_float(value, dtype, where)  # numbers read straight into an array (json_fast)
    if dtype.is_string:
        if isinstance(value, np.ndarray) and value.dtype.kind != "O":
            raise InvalidArgument(f'{where}: expected strings or {{"b64": ...}} objects, got numbers')
        return _strings(value, where)
    if isinstance(value, dict):
        raise InvalidArgument(f"{where}: expected {dtype.name} values, got an object")
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        if _depth(value) > MAX_DIMS:
            raise InvalidArgument(f"{where}: the values are nested more than {MAX_DIMS} lists deep") from None
        raise InvalidArgument(f"{where} is ragged: every row must have the same shape") from None
    kind = array.dtype.kind
    if kind in "OUS":
        odd = _first_not_a_number(value, ())
        if odd is not None:
            at, item = odd
            raise InvalidArgument(f"{where}: expected {dtype.name} values, got {_kind_of(item)}{_at(at)}")
        if kind == "O" and _has_nested_lists(value):
            raise InvalidArgument(f"{where} is ragged: every row must have the same shape")
        raise InvalidArgument(f"{where}: expected {dtype.name} values, got strings or objects")
    if array.size == 0:
        return np.zeros(array.shape, dtype=dtype.numpy)
    if dtype.is_bool:
        if kind != "b":
            raise InvalidArgument(f"{where}: expected booleans (true/false), got numbers")
        return array
    if kind == "b":
        raise InvalidArgument(f"{where}: expected {dtype.name} values, got booleans")
    if type(value) is list and kind in "iuf":  # numpy reads true as 1 among numbers
        found = first_bool(value)
        if found is not None:
            raise InvalidArgument(f"{where}: expected {dtype.name} values, got a boolean at {list(found)}")
    if dtype.is_integer:
        if kind == "f" and not (np.all(np.isfinite(array)) and np.all(np.mod(array, 1) == 0)):
            raise InvalidArgument(f"{where}: expected {dtype.name} values, got non-integers")
        info = np.iinfo(dtype.numpy)  # type: ignore[type-var]
        if array.min() < info.min or array.max() > info.max:
            at = _first_index((array < info.min) | (array > info.max))
            raise InvalidArgument(
                f"{where}: the value {_shown(array[at])}{_at(at)} is out of range for {dtype.name}"
            )
    if dtype.is_float:
        return _to_float(array, dtype, where)
    return array.astype(dtype.numpy, copy=False)


def _depth(value: Any) -> int:
    """How many lists deep the first element of ``value`` sits."""
    depth = 0
    while isinstance(value, list) and depth <= MAX_DIMS:
        depth += 1
        value = value[0] if value else None
    return depth


#: the smallest magnitude that rounds to infinity in each float dtype narrower than float64
#: (the largest finite value plus half its spacing: that tie rounds away, to the even infinity)
#: a value that overflows its dtype is refused with a 400 (below); numpy's warning about the
#: cast or the sum that found it says nothing more (a filter, not errstate: no cost per request)
warnings.filterwarnings("ignore", "overflow encountered in (cast|reduce)", RuntimeWarning, __name__)

_OVERFLOW = {np.dtype(np.float32): 2.0**128 - 2.0**103, np.dtype(np.float16): 65520.0}


def _to_float(array: np.ndarray, dtype: DType, where: str) -> np.ndarray:
    """``array`` as the float ``dtype``; a (finite) value that would become infinite there is refused."""
    cast = array.astype(dtype.numpy, copy=False)
    limit = _OVERFLOW.get(dtype.numpy)
    # the values are finite (JSON has no inf), so the cast overflowed if it holds an inf: its sum then
    # is not finite either. One reduction per request; the exact check runs only when the sum
    # is not finite (an overflow, or values that only overflow when added up)
    if limit is not None and cast.size and not math.isfinite(np.add.reduce(cast, axis=None)):
        beyond = np.abs(array) >= limit
        if beyond.any():
            at = _first_index(beyond)
            raise InvalidArgument(
                f"{where}: the value {_shown(array[at])}{_at(at)} is out of range for {dtype.name}"
            )
    return cast


def _shown(value: Any) -> str:
    """A number for an error message: 300 rather than 300.0 (the fast path reads every number as a float)."""
    number = value.item()
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def _at(index: tuple[int, ...]) -> str:
    """Where an element sits, for an error message (nothing for a scalar)."""
    return f" at {list(index)}" if index else ""


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first true element of a boolean array."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _first_not_a_number(value: Any, at: tuple[int, ...]) -> tuple[tuple[int, ...], Any] | None:
    """Where the first value that is neither a number nor a list sits, and that value; None if none."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_not_a_number(item, (*at, i))
            if found is not None:
                return found
        return None
    if isinstance(value, int | float):  # bool is an int: booleans are refused elsewhere, by name
        return None
    return at, value


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"strings: {value[:40]!r}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _has_nested_lists(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(v, list) for v in value)


def _strings(value: Any, where: str) -> np.ndarray:
    flat: list[bytes] = []
    shape = _walk_strings(value, flat, 0, [], where)
    array = np.empty(len(flat), dtype=object)
    array[:] = flat
    return array.reshape(shape)


def _walk_strings(value: Any, flat: list[bytes], depth: int, shape: list[int], where: str) -> tuple[int, ...]:
    if isinstance(value, list):
        if depth >= MAX_DIMS:
            raise InvalidArgument(f"{where}: the values are nested more than {MAX_DIMS} lists deep")
        if len(shape) == depth:
            shape.append(len(value))
        elif depth >= len(shape) or shape[depth] != len(value):
            raise InvalidArgument(f"{where} is ragged: every row must have the same shape")
        for item in value:
            _walk_strings(item, flat, depth + 1, shape, where)
        return tuple(shape)
    if len(shape) != depth and flat:
        raise InvalidArgument(f"{where} is ragged: every row must have the same shape")
    flat.append(decode_string(value, where))
    return tuple(shape)


def decode_string(value: Any, where: str) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if type(value) is bytes:  # the object of an input URL, fetched (moorings.fetch)
        return value
    if isinstance(value, dict) and len(value) == 1 and "b64" in value:
        encoded = value["b64"]
        if not isinstance(encoded, str):
            raise InvalidArgument(f"{where}: the b64 value must be a string")
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArgument(f"{where}: invalid base64 in b64 value") from None
    if isinstance(value, dict) and "url" in value:
        if not isinstance(value["url"], str) or len(value) != 1:
            raise InvalidArgument(f'{where}: an input URL is {{"url": "<URL string>"}}, with no other key')
        raise InvalidArgument(f'{where}: an input URL ({{"url": ...}}) is read only as an element of a list')
    raise InvalidArgument(f'{where}: expected strings or {{"b64": ...}} objects, got {type(value).__name__}')


def is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def from_array(array: np.ndarray, name: str) -> Any:
    """A JSON-ready value: numeric arrays pass through (orjson writes them), strings become text.

    As in TensorFlow Serving, a string output whose name ends in ``_bytes`` is
    written as ``{"b64": ...}``; other strings as UTF-8 text (b64 if not valid UTF-8).
    """
    if array.dtype == object or array.dtype.kind in "SU":
        force_b64 = name.endswith("_bytes")
        return _string_values(array.tolist(), force_b64)
    if not array.flags.c_contiguous:
        array = np.ascontiguousarray(array)
    if array.dtype.kind == "c" or array.dtype.byteorder == ">":
        return array.tolist()
    if array.dtype.char in "qQ":  # longlong: same bits as int64, but orjson only knows int64
        return array.view(np.int64 if array.dtype.char == "q" else np.uint64)
    return array


def _string_values(value: Any, force_b64: bool) -> Any:
    if isinstance(value, list):
        return [_string_values(v, force_b64) for v in value]
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        if not force_b64:
            try:
                return value.decode()
            except UnicodeDecodeError:
                pass
        return {"b64": base64.b64encode(value).decode()}
    return value
