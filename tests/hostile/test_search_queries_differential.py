"""The batch search body's fast reader accepts a body only when orjson does, with the same values."""

from __future__ import annotations

import random

import numpy as np
import orjson
import pytest

from moorings.codecs import json_fast
from moorings.search.json_queries import read_vector_queries

pytestmark = pytest.mark.skipif(not json_fast.available(), reason="the C number reader is not built")

SEEDS = [
    b'{"queries": [{"vector": [0.5, 1.25e3, -2]}, {"vector": [1e-7, 0, -0.0]}], "k": 3}',
    b'{"queries":[{"vector":[0.5117999911308289,0.9505000114440918]}],"filter":{"a":{"in":[1,2]}}}',
    b' { "queries" : [ { "vector" : [ 1 ] } ] , "include_metadata" : false , "layout" : "columns" } ',
]
ALPHABET = bytes(range(0x20)) + b' "\\[]{},:-+.eE0123456789tfnuvq\x7f' + b"\xc3\xa9\xff\xed\xa0\x80"


def _mutate(body: bytes, rng: random.Random) -> bytes:
    data = bytearray(body)
    for _ in range(rng.choice((1, 1, 2, 3))):
        at = rng.randrange(len(data) + 1)
        op = rng.randrange(3)
        if op == 0:
            data[at:at] = bytes([rng.choice(ALPHABET)])
        elif op == 1 and at < len(data):
            del data[at]
        elif at < len(data):
            data[at] = rng.choice(ALPHABET)
    return bytes(data)


def _agrees(body: bytes) -> None:
    fast = read_vector_queries(body)
    if fast is None:
        return
    general = orjson.loads(body)  # raises if the fast path took a body orjson refuses
    assert isinstance(general, dict) and fast.keys() == general.keys()
    matrix = fast.pop("queries")
    rows = general.pop("queries")
    assert all(list(q) == ["vector"] for q in rows)
    want = np.asarray([q["vector"] for q in rows], dtype=np.float64)
    assert matrix.shape == want.shape and matrix.tobytes() == want.tobytes()
    assert fast == general


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_mutated_bodies_are_read_as_orjson_reads_them_or_left_to_it(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        _agrees(_mutate(SEEDS[seed], rng))


@pytest.mark.parametrize(
    "body",
    [
        b'{"queries": [{"vector": ' + b"[" * 100_000 + b"1" + b"]" * 100_000 + b"}]}",  # deep nesting
        b'{"queries": [' + b'{"vector": [1]},' * 200_000 + b'{"vector": [1]}]}',  # many tiny queries
        b'{"queries": [{"vector": [' + b"1," * 300_000 + b"1]}]}",  # one huge vector
        b'{"queries": [{"vector": [1' + b"0" * 100_000 + b"]}]}",  # one huge number
        b'{"queries": [{"vector": [1]}' + b" " * 100_000,  # cut short after spaces
    ],
)
def test_hostile_bodies_end_in_a_value_or_none(body: bytes) -> None:
    _agrees(body)
