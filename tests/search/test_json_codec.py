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


def test_the_columns_layout_holds_one_array_per_field_and_query() -> None:
    hits = Hits(["a", 'q"uote'], [0.5, 0.25], ["A", None], [{"year": 2001}, None])
    results = [SearchResult(hits, Matched("x", "X")), SearchResult(Hits.of(()))]
    request = SearchRequest(queries=[], batch=True, layout="columns")
    assert orjson.loads(codec.search_answer(request, results)) == {
        "results": [
            {
                "ids": ["a", 'q"uote'],
                "scores": [0.5, 0.25],
                "names": ["A", None],
                "metadata": [{"year": 2001}, None],
                "matched": {"id": "x", "name": "X"},
            },
            {"ids": [], "scores": [], "names": [], "metadata": []},
        ]
    }
    bare = SearchRequest(queries=[], include_metadata=False, layout="columns")
    assert orjson.loads(codec.search_answer(bare, results[1:])) == {"ids": [], "scores": []}
    single = orjson.loads(codec.search_answer(bare, results[:1]))
    assert single == {"ids": ["a", 'q"uote'], "scores": [0.5, 0.25], "matched": {"id": "x", "name": "X"}}


@pytest.mark.parametrize(
    ("layout", "shown"),
    [("rows", "'rows'"), ("", "''"), ("HITS", "'HITS'"), (1, "1"), (None, "None"), (["columns"], "an array")],
)
def test_a_bad_layout_is_named(layout: object, shown: str) -> None:
    spec = CollectionSpec("films", 2)
    for read in (
        lambda: codec.search_from_json({"vector": [1, 0], "layout": layout}, spec),
        lambda: codec.search_from_array(np.ones(2, np.float32), {"layout": layout}, spec, "the queries"),
    ):
        with pytest.raises(InvalidArgument, match="'layout' must be one of hits, columns") as info:
            read()
        assert str(info.value).endswith(f"got {shown}")
    assert codec.search_from_json({"vector": [1, 0]}, spec).layout == "hits"
    columns = codec.search_from_array(np.ones(2, np.float32), {"layout": "columns"}, spec, "q")
    assert columns.layout == "columns"


def test_queries_read_as_an_array_give_the_request_the_lists_give() -> None:
    spec = CollectionSpec("films", 3)
    rows = [[1, 2, 3], [0.5, -0.25, 1e-3]]
    as_lists = codec.search_from_json({"queries": [{"vector": r} for r in rows], "k": 2}, spec)
    as_array = codec.search_from_json({"queries": np.array(rows, dtype=np.float64), "k": 2}, spec)
    assert as_array.vectors is not None and as_lists.vectors is not None
    assert as_array.vectors.tobytes() == as_lists.vectors.tobytes() and as_array.batch and as_array.k == 2
    # a check that fails on the array words its error as the per-query path does
    for bad, message in (
        ([[1, 2]], r"queries\[0\] vector has dimension 2"),
        ([[1, 2, 3], [0, 0, 0]], r"queries\[1\] 0 is all zeros"),
        ([[1e300, 0, 0]], r"queries\[0\] vector 0 holds NaN or Inf"),
    ):
        with pytest.raises(InvalidArgument, match=message):
            codec.search_from_json({"queries": np.array(bad, dtype=np.float64)}, spec)
        with pytest.raises(InvalidArgument, match=message):
            codec.search_from_json({"queries": [{"vector": r} for r in bad]}, spec)
