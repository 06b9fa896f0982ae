"""The JSON codec: the search answer it writes itself is byte for byte orjson's, whatever the hits hold."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from moorings.errors import InvalidArgument
from moorings.search import json_codec as codec
from moorings.search.types import (
    CollectionInfo,
    CollectionSpec,
    Hits,
    Matched,
    SearchRequest,
    SearchResult,
)

#: characters that JSON escapes or that are easy to get wrong: quotes, backslashes, controls,
#: non-ASCII, line and paragraph separators, astral characters
HOSTILE = list('ab09 "\\/\x00\x01\x1f\x7f\n\té€\u2028\u2029\U0001f600{}[],:')
#: what needs no escaping in JSON, though not ASCII (the writer's own path)
UNESCAPED = [c for c in HOSTILE if c not in '"\\' and ord(c) >= 0x20]


def _text(rng: np.random.Generator, alphabet: list[str] = HOSTILE, longest: int = 8) -> str:
    return "".join(rng.choice(alphabet, rng.integers(1, longest + 1)))


def _string(rng: np.random.Generator, kind: str, n: int) -> str:
    if kind == "plain":
        return f"item {n}"
    return _text(rng, UNESCAPED if kind == "unescaped" else HOSTILE)


def _hits(rng: np.random.Generator, n: int, kind: str) -> Hits:
    ids = [_string(rng, kind, i).removeprefix("item ") for i in rng.integers(0, 10**6, n)]
    names = [None if rng.random() < 0.3 else _string(rng, kind, i) for i in range(n)]
    metadata = [
        None if rng.random() < 0.5 else {"n": int(i), _text(rng): [_text(rng), 1.5]} for i in range(n)
    ]
    scores = (rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n)).tolist()
    return Hits(ids, sorted(scores, reverse=True), names, metadata)


@pytest.mark.parametrize("kind", ["plain", "unescaped", "hostile"])
@pytest.mark.parametrize("include", [True, False])
@pytest.mark.parametrize("batch", [True, False])
def test_the_written_answer_is_what_orjson_writes(kind: str, include: bool, batch: bool) -> None:
    rng = np.random.default_rng([len(kind), int(include), int(batch)])
    for _ in range(50):
        results = [
            SearchResult(
                hits=_hits(rng, int(rng.integers(0, 12)), kind),
                matched=None if rng.random() < 0.5 else Matched(_text(rng), _string(rng, kind, 1)),
            )
            for _ in range(int(rng.integers(1, 5)) if batch else 1)
        ]
        request = SearchRequest(queries=[], include_metadata=include, batch=batch)
        written = codec.search_answer(request, results)
        assert written == orjson.dumps(codec.answer_json(request, results))


def test_scores_keep_their_float64_digits_and_a_lone_surrogate_fails_as_orjson_does() -> None:
    scores = [0.1, -0.0, 1e-7, 123456789.125, float(np.float32(0.7))]
    hits = Hits([str(n) for n in range(5)], scores, [None] * 5, [None] * 5)
    request = SearchRequest(queries=[], batch=False)
    answer = orjson.loads(codec.search_answer(request, [SearchResult(hits)]))
    assert [h["score"] for h in answer["hits"]] == scores
    bad = Hits(["a"], [1.0], ["\ud800"], [None])
    with pytest.raises(orjson.JSONEncodeError):
        codec.search_answer(request, [SearchResult(bad)])


def test_info_lists_the_spec_then_count_then_the_backend_facts() -> None:
    spec = CollectionSpec("films", 3)
    described = codec.info_json(CollectionInfo(spec, 5, {"backend": "faiss", "index": "flat"}))
    assert list(described) == ["name", "dim", "metric", "index", "reduce_to", "count", "backend"]
    assert described["index"] == "flat"  # what "auto" chose
    assert codec.info_json(CollectionInfo(spec)) == spec.to_json()  # a listing has no count


def test_readers_name_what_is_wrong() -> None:
    spec = CollectionSpec("films", 3, metric="l2")
    with pytest.raises(InvalidArgument, match=r'\{"ids": \[id, \.\.\.\]\}'):
        codec.ids_from_json({"ids": "1"})
    with pytest.raises(InvalidArgument, match="cannot go with binary queries"):
        codec.search_from_array(np.zeros((1, 3), np.float32), {"vector": [1]}, spec, "the queries")
    request = codec.search_from_array(np.ones(3, np.float32), {"k": 2}, spec, "the queries")
    assert request.vectors is not None and request.vectors.shape == (1, 3) and not request.batch
    batch = codec.batch_from_json({"items": [{"id": 7, "vector": [1, 2, 3], "name": "x"}]}, spec)
    assert batch.ids == ["7"] and batch.names == ["x"] and batch.vectors.dtype == np.float32
