"""A JSON batch search body whose query vectors skip per-value Python objects.

``{"queries": [{"vector": [0.1, ...]}, ...], "k": 10}`` parsed by orjson costs one Python float
per value, and then numpy's type discovery over them, before the search starts. When the body
*starts* with ``"queries"`` holding only ``{"vector": [numbers]}`` objects, the C number reader
(``moorings.codecs._jsonnum``, the one the tensor APIs use) reads each vector straight into
float64, and orjson parses only the rest of the body. Any other body (ids or names among the
queries, other key orders, nested or empty vectors, non-numbers, a missing or unbuilt helper)
gives None, and the caller parses it the general way: the fast path accepts a body only when
orjson accepts it too, with the same numbers (both round decimals to the nearest float64).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt

from moorings.codecs.json_fast import rest_of_object

try:
    from moorings.codecs import _jsonnum
except ImportError:  # built without a C compiler: the general path only
    _jsonnum = None  # type: ignore[assignment]

_WS = rb"[ \t\r\n]*"
_LEADING = re.compile(_WS + rb"\{" + _WS + rb'"queries"' + _WS + rb":" + _WS + rb"\[")
#: the first query object up to the ``[`` of its vector
_FIRST = re.compile(_WS + rb"\{" + _WS + rb'"vector"' + _WS + rb":" + _WS + rb"\[")
#: the end of one query object, then either the next one up to its vector's ``[`` (group 1 set)
#: or the end of the list
_NEXT = re.compile(
    _WS + rb"\}" + _WS + rb"(?:(,)" + _WS + rb"\{" + _WS + rb'"vector"' + _WS + rb":" + _WS + rb"\[|\])"
)


def read_vector_queries(body: bytes | bytearray | memoryview) -> dict[str, Any] | None:
    """The body as a dict whose ``queries`` is a (n, dim) float64 array; None when the body does not
    have that form (see the module's docstring)."""
    if _jsonnum is None:
        return None
    data = bytes(body) if isinstance(body, memoryview) else body
    match = _LEADING.match(data)
    first = None if match is None else _FIRST.match(data, match.end())
    if first is None:
        return None
    parse = _jsonnum.parse
    parts: list[bytearray] = []
    dim = -1
    start = first.end() - 1  # the vector's "["
    while True:
        parsed = parse(data, start)
        if parsed is None:
            return None
        values, shape, end = parsed
        if len(shape) != 1 or shape[0] == 0 or (dim >= 0 and shape[0] != dim):
            return None  # nested, empty or ragged: the general path words the error
        dim = shape[0]
        parts.append(values)
        after = _NEXT.match(data, end)
        if after is None:
            return None
        if after.group(1) is None:  # the list ended
            break
        start = after.end() - 1
    rest = rest_of_object(data, after.end())
    if rest is None or "queries" in rest:
        return None
    rest["queries"] = _matrix(parts, dim)
    return rest


def _matrix(parts: list[bytearray], dim: int) -> npt.NDArray[np.float64]:
    return np.frombuffer(b"".join(parts), dtype=np.float64).reshape(len(parts), dim)
