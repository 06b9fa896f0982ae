"""The JSON fast paths accept a body only when orjson does, and then read the same values (issue 20 #8)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest

from moorings.codecs import json_fast

SEEDS = [
    b'{"instances": [[0.5, 1.25e3, -2, 3.0], [1e-7, 0, -0.0, 12345.678]], "signature_name": "s"}',
    b'{"inputs": {"x": [[1, 2.5]], "y z": [0.1, 0.2, 0.3]}, "signature_name": "serving_default"}',
    b'{"inputs": [[0.5117999911308289, 0.9505000114440918]]}',
    b'{"id": "r1", "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3, 4.5]]},'
    b' {"name": "s", "datatype": "BYTES", "shape": [1], "data": ["text"]}], "outputs": [{"name": "y"}]}',
]
#: bytes a mutation inserts or writes: JSON's own punctuation, control characters, bytes of UTF-8
#: sequences (valid and not), and what numbers and literals are made of
ALPHABET = (
    bytes(range(0x20)) + b' "\\[]{},:-+.eE0123456789tfnu\x7f' + b"\xc3\xa9\xff\xed\xa0\x80\xf0\x9f\x98\x80"
)
FAST: dict[str, Callable[[bytes], dict[str, Any] | None]] = {
    "leading": json_fast.parse_leading_array,
    "v2": json_fast.parse_v2_data_arrays,
}


def _mutate(body: bytes, rng: random.Random) -> bytes:
    data = bytearray(body)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        at = rng.randrange(len(data) + 1)
        op = rng.randrange(3)
        if op == 0:
            data[at:at] = bytes([rng.choice(ALPHABET)])
        elif op == 1 and at < len(data):
            del data[at]
        elif at < len(data):
            data[at] = rng.choice(ALPHABET)
    return bytes(data)


def _same(fast: Any, general: Any) -> bool:
    """The fast path's value (arrays where numbers were read straight in) equals orjson's."""
    if isinstance(fast, np.ndarray):
        want = np.asarray(general, dtype=np.float64)
        return fast.shape == want.shape and fast.view(np.uint64).tolist() == want.view(np.uint64).tolist()
    if isinstance(fast, dict):
        return (
            isinstance(general, dict)
            and fast.keys() == general.keys()  # the fast path may put the leading member last
            and all(_same(fast[k], general[k]) for k in fast)
        )
    if isinstance(fast, list):
        return isinstance(general, list) and len(fast) == len(general) and all(map(_same, fast, general))
    return type(fast) is type(general) and bool(fast == general)


@pytest.mark.parametrize("name", FAST)
def test_mutated_bodies_are_accepted_only_when_orjson_accepts_them(name: str) -> None:
    rng = random.Random(20)
    accepted = refused = 0
    for _ in range(20000):
        body = _mutate(rng.choice(SEEDS), rng)
        fast = FAST[name](body)
        try:
            general = orjson.loads(body)
        except orjson.JSONDecodeError:
            assert fast is None, body
            refused += 1
            continue
        if fast is not None:
            assert _same(fast, general), body
            accepted += 1
    assert accepted > 500 and refused > 5000, (accepted, refused)  # both sides were exercised


@pytest.mark.parametrize("char", [b"\n", b"\t", b"\x00", b"\x1f", b"\r"])
def test_a_raw_control_character_in_an_input_name_is_not_json(char: bytes) -> None:
    body = b'{"inputs": {"x' + char + b'": [[1,2]]}}'
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    assert json_fast.parse_leading_array(body) is None  # so the general parser words the error
