"""Tensor request bodies whose big numeric arrays skip per-value Python objects.

``{"instances": [[0.1, 0.2, ...], ...]}`` parsed by orjson costs one Python
float per value and then numpy's type discovery over them, most of a small
model's request (benchmarks/number_reader.py measures it). When the body
*starts* with ``"instances"`` or ``"inputs"`` holding a rectangular array of
plain numbers, the C helper ``_jsonnum`` reads that array straight into a
float64 buffer and orjson parses only the rest of the body. The columnar form
with named inputs, ``{"inputs": {"x": [...], "y": [...]}}``, gets the same
treatment for each input. KServe V2 JSON requests get it for every input's
``"data": [...]`` (``parse_v2_data_arrays``). Every other body (strings,
booleans, objects, ragged rows, other key orders, a missing or unbuilt helper)
takes the general path (orjson), unchanged, so results and error messages do
not depend on which path ran: the fast path accepts a body only when orjson
accepts it too.

Values are exact: decimal to float64 conversion is correctly rounded (as
orjson's) whatever the number of digits, and integers that a float64 cannot
hold exactly are left to the general path.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import orjson

try:
    from moorings.codecs import _jsonnum
except ImportError:  # built without a C compiler: the general path only
    _jsonnum = None  # type: ignore[assignment]

#: the body's first member: ``instances`` or ``inputs``, opening an array (or, for ``inputs``, an object)
_LEADING = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"(instances|inputs)"[ \t\r\n]*:[ \t\r\n]*([\[{])')
#: one member of the named inputs: a plain name (no escapes, and no control character, which JSON
#: forbids raw inside a string) whose value is an array
_MEMBER = re.compile(rb'[ \t\r\n]*"([^"\\\x00-\x1f]*)"[ \t\r\n]*:[ \t\r\n]*\[')
_NEXT = re.compile(rb"[ \t\r\n]*([,}])")
_WS = b" \t\r\n"


def available() -> bool:
    return _jsonnum is not None


def first_bool(value: list[Any]) -> tuple[int, ...] | None:
    """The index path of the first boolean in a nested list of parsed JSON (depth first), or None."""
    if _jsonnum is not None:
        return _jsonnum.find_bool(value)
    for i, item in enumerate(value):
        if type(item) is bool:
            return (i,)
        if type(item) is list:
            inner = first_bool(item)
            if inner is not None:
                return (i, *inner)
    return None


def parse_leading_array(body: bytes | bytearray) -> dict[str, Any] | None:
    """The body as a dict whose leading numeric ``instances``/``inputs`` are float64 arrays; else None.

    ``inputs`` may be one array or an object of named arrays. None means "parse it
    the general way": this body does not have that form, or the helper is not built.
    """
    if _jsonnum is None:
        return None
    match = _LEADING.match(body)
    if match is None:
        return None
    if match.group(2) == b"{":
        return _named_inputs(body, match.end()) if match.group(1) == b"inputs" else None
    parsed = _jsonnum.parse(body, match.end() - 1)
    if parsed is None:
        return None
    data, shape, end = parsed
    rest = rest_of_object(body, end)
    key = match.group(1).decode()
    if rest is None or key in rest:
        return None
    rest[key] = _array(data, shape)
    return rest


def _named_inputs(body: bytes | bytearray, pos: int) -> dict[str, Any] | None:
    """``{"inputs": {"x": [...], "y": [...]}, ...}`` with every input a float64 array; else None.

    ``pos`` is just after the ``{`` that opens the inputs. Every member must be a
    plain name (no escapes, not repeated, not ``b64``) holding an array the
    helper accepts.
    """
    assert _jsonnum is not None
    inputs: dict[str, np.ndarray] = {}
    while True:
        member = _MEMBER.match(body, pos)
        if member is None:
            return None
        try:
            name = member.group(1).decode("utf-8")
        except UnicodeDecodeError:
            return None
        if name in inputs or name == "b64":  # {"b64": ...} means bytes: orjson decides
            return None
        parsed = _jsonnum.parse(body, member.end() - 1)
        if parsed is None:
            return None
        data, shape, end = parsed
        inputs[name] = _array(data, shape)
        after = _NEXT.match(body, end)
        if after is None:
            return None
        pos = after.end()
        if after.group(1) == b"}":
            break
    rest = rest_of_object(body, pos)
    if rest is None or "inputs" in rest:
        return None
    rest["inputs"] = inputs
    return rest


def _array(data: bytearray, shape: tuple[int, ...]) -> np.ndarray:
    """What the C helper read, as an array (no copy)."""
    return np.frombuffer(data, dtype=np.float64).reshape(shape)


def rest_of_object(body: bytes | bytearray, end: int) -> dict[str, Any] | None:
    """The members of an object after its leading one (which ends at ``end``), parsed; None when
    the body is not a well-formed object there. Shared with the search service's batch reader."""
    tail = body[end:].lstrip(_WS)
    if tail[:1] == b"}":
        return {} if not tail[1:].strip(_WS) else None
    if tail[:1] != b"," or tail[1:].lstrip(_WS)[:1] != b'"':  # a member must follow the comma
        return None
    try:
        rest = orjson.loads(b"{" + tail[1:])
    except orjson.JSONDecodeError:
        return None
    return rest if isinstance(rest, dict) else None


#: stands in for an array while orjson parses the rest; a per-process nonce, so no client can forge one
_MARKER = "\x00moorings-array-" + os.urandom(8).hex() + "-"


def _marker(i: int) -> tuple[str, bytes]:
    """The marker of the ``i``-th array, and its JSON text."""
    marker = f"{_MARKER}{i}"
    return marker, orjson.dumps(marker)


#: the first few markers, made once
_MARKERS = [_marker(i) for i in range(16)]


def parse_v2_data_arrays(body: bytes | bytearray | memoryview) -> dict[str, Any] | None:
    """A KServe V2 JSON request whose numeric ``inputs[*].data`` arrays are float64 arrays; else None.

    Each ``"data": [numbers]`` is read by the C helper and replaced by a marker
    string while orjson parses the rest of the request; the markers are then
    swapped for the arrays. None (parse it the general way) when there is no
    such array, when one sits anywhere but an input's ``data``, or when the
    text is not valid JSON (so the general parser words the error).
    """
    if _jsonnum is None:
        return None
    spans = _jsonnum.find_data(body)
    if not spans:
        return None
    parts: list[bytes | bytearray | memoryview] = []
    arrays: dict[str, np.ndarray] = {}
    previous = 0
    for i, (start, end, data, shape) in enumerate(spans):
        marker, dumped = _MARKERS[i] if i < len(_MARKERS) else _marker(i)
        parts += (body[previous:start], dumped)
        arrays[marker] = _array(data, shape)
        previous = end
    parts.append(body[previous:])
    try:
        parsed = orjson.loads(b"".join(parts))
    except orjson.JSONDecodeError:
        return None
    inputs = parsed.get("inputs") if isinstance(parsed, dict) else None
    if not isinstance(inputs, list):
        return None
    for item in inputs:
        value = item.get("data") if isinstance(item, dict) else None
        if isinstance(value, str) and value in arrays:
            item["data"] = arrays.pop(value)
    return parsed if not arrays else None
