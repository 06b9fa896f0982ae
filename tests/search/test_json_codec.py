"""The JSON codec: readers that name what is wrong, and the answers' layout."""

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


def test_answers_hold_one_object_per_hit_and_the_matched_item() -> None:
    hits = Hits(["a", 'q"uote'], [0.5, 0.25], ["A", None], [{"year": 2001}, None])
    results = [SearchResult(hits, Matched("x", "X")), SearchResult(Hits.of(()))]
    batch = orjson.loads(codec.search_answer(SearchRequest(queries=[], batch=True), results))
    assert batch == {
        "results": [
            {
                "hits": [
                    {"id": "a", "score": 0.5, "name": "A", "metadata": {"year": 2001}},
                    {"id": 'q"uote', "score": 0.25, "name": None, "metadata": None},
                ],
                "matched": {"id": "x", "name": "X"},
            },
            {"hits": []},
        ]
    }
    bare = SearchRequest(queries=[], include_metadata=False)
    single = orjson.loads(codec.search_answer(bare, results[:1]))
    assert [h["metadata"] for h in single["hits"]] == [None, None] and single["matched"]["id"] == "x"


def test_scores_keep_their_float64_digits() -> None:
    scores = [0.1, -0.0, 1e-7, 123456789.125, float(np.float32(0.7))]
    hits = Hits([str(n) for n in range(5)], scores, [None] * 5, [None] * 5)
    request = SearchRequest(queries=[], batch=False)
    answer = orjson.loads(codec.search_answer(request, [SearchResult(hits)]))
    assert [h["score"] for h in answer["hits"]] == scores


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
