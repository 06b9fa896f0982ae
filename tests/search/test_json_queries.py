"""The fast reader of batch search bodies: the numbers orjson reads, or None for any other form."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moorings.codecs import json_fast
from moorings.search.json_queries import read_vector_queries

pytestmark = pytest.mark.skipif(not json_fast.available(), reason="the C number reader is not built")


def _general(body: bytes) -> dict[str, object]:
    parsed: dict[str, object] = orjson.loads(body)
    return parsed


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 9),
    st.sampled_from(["f32", "f64", "int", "exp"]),
    st.integers(0, 2**32 - 1),
)
def test_vectors_are_the_numbers_orjson_reads(rows: int, dim: int, kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if kind == "f32":  # what float32 tolist() clients send
        texts = [
            repr(v)
            for v in (rng.standard_normal(rows * dim) * 10.0 ** rng.integers(-8, 8))
            .astype(np.float32)
            .tolist()
        ]
    elif kind == "f64":
        texts = [repr(v) for v in (rng.standard_normal(rows * dim) * 10.0 ** rng.integers(-30, 30)).tolist()]
    elif kind == "int":
        texts = [str(v) for v in rng.integers(-(2**40), 2**40, rows * dim).tolist()]
    else:  # digit strings with exponents, up to 19 digits
        digits = [str(rng.integers(10**5, 2**63 - 1)) for _ in range(rows * dim)]
        texts = [
            f"-{d[:1]}.{d[1:]}E{e}" if n % 2 else f"{d}e-{abs(e)}"
            for n, (d, e) in enumerate(zip(digits, rng.integers(-25, 25, rows * dim), strict=True))
        ]
    vectors = [texts[r * dim : (r + 1) * dim] for r in range(rows)]
    queries = ", ".join('{"vector": [' + ", ".join(v) + "]}" for v in vectors)
    body = ('{"queries": [' + queries + '], "k": 3, "filter": {"a": 1}}').encode()
    fast = read_vector_queries(body)
    assert fast is not None
    matrix = fast.pop("queries")
    general = _general(body)
    expected = np.asarray([q["vector"] for q in general.pop("queries")], dtype=np.float64)  # type: ignore[attr-defined]
    assert isinstance(matrix, np.ndarray) and matrix.dtype == np.float64
    assert matrix.tobytes() == expected.tobytes() and fast == general


def test_spacing_and_memoryviews_are_read() -> None:
    body = b' \n{ "queries" :[ {"vector" : [1, 2.5]} ,\t{ "vector":[3,4] }\r] , "k" : 2 } \n'
    for form in (body, bytearray(body), memoryview(body)):
        fast = read_vector_queries(form)
        assert fast is not None and fast["k"] == 2
        assert fast["queries"].tolist() == [[1.0, 2.5], [3.0, 4.0]]
    assert read_vector_queries(b'{"queries": [{"vector": [1]}]}') is not None


@pytest.mark.parametrize(
    "body",
    [
        b'{"k": 2, "queries": [{"vector": [1, 2]}]}',  # another key first
        b'{"queries": [{"vector": [1, 2]}, {"id": "a"}]}',  # an id among the queries
        b'{"queries": [{"vector": [1, 2], "k": 1}]}',  # a second key in a query
        b'{"queries": [{"vector": [1, 2]}, {"vector": [1, 2, 3]}]}',  # ragged
        b'{"queries": [{"vector": [[1, 2]]}]}',  # nested
        b'{"queries": [{"vector": []}]}',
        b'{"queries": []}',
        b'{"queries": [{"vector": [1, true]}]}',
        b'{"queries": [{"vector": ["1", 2]}]}',
        b'{"queries": [{"vector": [1e999, 2]}]}',  # orjson refuses it
        b'{"queries": [{"vector": [123456789012345678901234567890, 1]}]}',  # beyond float64's integers
        b'{"queries": [{"vector": [1, 2]}], "queries": [{"id": "a"}]}',  # repeated: orjson keeps the last
        b'{"queries": [{"vector": [1, 2]},]}',
        b'{"queries": [{"vector": [1, 2]}] "k": 1}',
        b'{"queries": [{"vector": [1, 2]}], "k": 1',
        b'{"queries": [{"vector": [1, 2]}]} trailing',
        b'{"queries": [{"vector": [1, 2]}], }',
        b'{"queries": [{"vector": [1, 2]}',
        b'[{"queries": []}]',
        b"",
    ],
)
def test_other_forms_go_the_general_way(body: bytes) -> None:
    assert read_vector_queries(body) is None
