"""The JSON API (bodies in, JSON out, through the typed service): input checks, search by vector /
id / name, batch, filters, blend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from moorings.errors import InvalidArgument, MooringsError, NotFound, Unavailable
from moorings.search.backends import open_collections
from moorings.search.faiss_store import MANIFEST
from moorings.search.json_api import JsonCollections

FILMS = [
    (
        "1",
        "Rogue One: A Star Wars Story",
        [1.0, 0.0, 0.1],
        {"year": 2016, "genre": "scifi", "fresh": 0.2},
    ),
    (
        "2",
        "Star Wars: The Force Awakens",
        [0.9, 0.1, 0.1],
        {"year": 2015, "genre": "scifi", "fresh": 0.1},
    ),
    ("3", "Solo: A Star Wars Story", [0.8, 0.2, 0.0], {"year": 2018, "genre": "scifi", "fresh": 0.9}),
    ("4", "Amélie", [0.0, 1.0, 0.0], {"year": 2001, "genre": "romance", "fresh": 0.5}),
    ("5", "Notting Hill", [0.1, 0.9, 0.1], {"year": 1999, "genre": "romance"}),
    ("6", "Alien", [0.7, 0.0, 0.7], {"year": 1979, "genre": "horror", "fresh": 1.0}),
]


def _load(c: JsonCollections, name: str = "films", metric: str = "cosine") -> None:
    c.create({"name": name, "dim": 3, "metric": metric})
    items = [{"id": i, "name": n, "vector": v, "metadata": m} for i, n, v, m in FILMS]
    c.upsert(name, {"items": items})


def _ids(answer: dict[str, Any]) -> list[str]:
    return [h["id"] for h in answer["hits"]]


def test_search_by_vector_id_and_partial_name(embedded: JsonCollections) -> None:
    _load(embedded)
    assert _ids(embedded.search("films", {"vector": [1, 0, 0.1], "k": 2})) == ["1", "2"]
    by_id = embedded.search("films", {"id": "1", "k": 2})
    assert _ids(by_id) == ["2", "3"]  # the item itself is not its own neighbour
    by_name = embedded.search("films", {"name": "rogue one", "k": 2})
    assert by_name["matched"] == {"id": "1", "name": "Rogue One: A Star Wars Story"}
    assert _ids(by_name) == ["2", "3"]
    assert embedded.search("films", {"name": "  AMÉLIE ", "k": 1})["matched"]["id"] == "4"
    assert embedded.search("films", {"name": "story solo", "k": 1})["matched"]["id"] == "3"  # every word
    with pytest.raises(NotFound, match="has a name like 'matrix'"):
        embedded.search("films", {"name": "matrix"})
    with pytest.raises(NotFound, match="no item 'nope'"):
        embedded.search("films", {"id": "nope"})


def test_batch_queries_answer_in_order(embedded: JsonCollections) -> None:
    _load(embedded)
    answer = embedded.search(
        "films", {"queries": [{"vector": [0, 1, 0]}, {"id": "6"}, {"name": "hill"}], "k": 1}
    )
    assert [_ids(r) for r in answer["results"]] == [["4"], ["2"], ["4"]]


def test_filters_still_return_k_results(embedded: JsonCollections) -> None:
    _load(embedded)
    romance = embedded.search("films", {"vector": [1, 0, 0], "k": 5, "filter": {"genre": "romance"}})
    assert sorted(_ids(romance)) == ["4", "5"]  # all that match, even far away
    ranged = embedded.search(
        "films", {"vector": [1, 0, 0], "k": 10, "filter": {"year": {"gte": 2000, "lt": 2016}}}
    )
    assert sorted(_ids(ranged)) == ["2", "4"]
    listed = embedded.search(
        "films", {"vector": [1, 0, 0], "k": 10, "filter": {"genre": {"in": ["horror", "romance"]}}}
    )
    assert sorted(_ids(listed)) == ["4", "5", "6"]
    none = embedded.search("films", {"vector": [1, 0, 0], "filter": {"genre": "western"}})
    assert none["hits"] == []


def test_filter_on_a_large_collection_returns_k_from_few_matches(embedded: JsonCollections) -> None:
    rng = np.random.default_rng(0)
    embedded.create({"name": "big", "dim": 8, "index": "hnsw"})
    vectors = rng.standard_normal((3000, 8))
    items = [
        {"id": i, "vector": v.tolist(), "metadata": {"rare": i % 500 == 0}} for i, v in enumerate(vectors)
    ]
    embedded.upsert("big", {"items": items})
    answer = embedded.search("big", {"vector": vectors[1].tolist(), "k": 6, "filter": {"rare": True}})
    assert sorted(_ids(answer), key=int) == ["0", "500", "1000", "1500", "2000", "2500"]


def test_blend_mixes_in_a_metadata_signal(embedded: JsonCollections) -> None:
    _load(embedded)
    plain = embedded.search("films", {"vector": [1, 0, 0.1], "k": 3})
    assert _ids(plain)[0] == "1"
    blended = embedded.search(
        "films", {"vector": [1, 0, 0.1], "k": 3, "blend": {"field": "fresh", "weight": 0.5}}
    )
    # Solo (0.9) and Alien (1.0, outside the plain top 3) are fresher than Rogue One (0.2)
    assert _ids(plain) == ["1", "2", "3"]
    assert _ids(blended) == ["3", "6", "1"]
    scores = [h["score"] for h in blended["hits"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"items": [{"id": "x", "vector": [1, 2]}]}, "dimension 2"),
        ({"items": [{"id": "x", "vector": [1, float("nan"), 2]}]}, "NaN or Inf"),
        ({"items": [{"id": "x", "vector": [1, 1e39, 2]}]}, "NaN or Inf"),
        ({"items": [{"id": "x", "vector": []}]}, "non-empty"),
        ({"items": [{"id": "x", "vector": [0, 0, 0]}]}, "all zeros"),
        ({"items": [{"id": "x", "vector": [1, "a", 2]}]}, "only numbers"),
        ({"items": [{"id": "x", "vector": [1, 2, 3]}, {"id": "x", "vector": [1, 2, 3]}]}, "more than once"),
        ({"items": [{"id": "", "vector": [1, 2, 3]}]}, "an id is"),
        ({"items": [{"id": "x", "vector": [1, 2, 3], "metadata": [1]}]}, "metadata must be a JSON object"),
        ({"items": []}, "'items' is empty"),
        ({"things": []}, "'items'"),
    ],
)
def test_bad_items_are_rejected_and_nothing_is_stored(
    embedded: JsonCollections, body: Any, message: str
) -> None:
    embedded.create({"name": "c", "dim": 3})
    good = {"id": "ok", "vector": [1, 2, 3]}
    if body.get("items"):
        body = {"items": [good, *body["items"]]}
    with pytest.raises(InvalidArgument, match=message):
        embedded.upsert("c", body)
    assert embedded.describe("c")["count"] == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"vector": [1, 2]}, "dimension 2"),
        ({"vector": [1, 2, float("inf")]}, "NaN or Inf"),
        ({"vector": []}, "list of 3 numbers"),
        ({}, "exactly one of"),
        ({"vector": [1, 2, 3], "id": "1"}, "exactly one of"),
        ({"vector": [1, 2, 3], "k": 0}, "'k' must be"),
        ({"vector": [1, 2, 3], "k": "5"}, "'k' must be"),
        ({"vector": [1, 2, 3], "filter": []}, "'filter' must be"),
        ({"vector": [1, 2, 3], "filter": {"year": {"near": 3}}}, "unknown operator 'near'"),
        ({"vector": [1, 2, 3], "filter": {"year": {"gte": "x"}}}, "finite number"),
        ({"vector": [1, 2, 3], "filter": {"bad field!": 1}}, "not a valid field name"),
        ({"vector": [1, 2, 3], "filter": {"g": [1]}}, "string, number or boolean"),
        ({"vector": [1, 2, 3], "blend": {"field": "f", "weight": 2}}, "from 0 to 1"),
        ({"vector": [1, 2, 3], "bogus": 1}, "unknown search field"),
        ({"queries": []}, "'queries' must be"),
        ({"queries": [{"vector": [1, 2, 3], "id": "1"}]}, r"queries\[0\]"),
    ],
)
def test_bad_searches_name_the_problem(embedded: JsonCollections, body: Any, message: str) -> None:
    _load(embedded)
    with pytest.raises(InvalidArgument, match=message):
        embedded.search("films", body)


def test_unknown_collection_and_bad_specs(embedded: JsonCollections) -> None:
    with pytest.raises(NotFound, match="no collection named 'ghost'"):
        embedded.search("ghost", {"vector": [1]})
    for spec, message in [
        ({"name": "x", "dim": 0}, "'dim' must be"),
        ({"name": "x", "dim": 3, "metric": "hamming"}, "'metric' must be"),
        ({"name": "../x", "dim": 3}, "invalid collection name"),
        ({"name": "x", "dim": 3, "reduce_to": 3}, "'reduce_to'"),
        ({"name": "x", "dim": 3, "extra": 1}, "unknown collection field"),
    ]:
        with pytest.raises(MooringsError, match=message):
            embedded.create(spec)
    assert embedded.list_all() == []


def test_delete_and_fetch(embedded: JsonCollections) -> None:
    _load(embedded)
    assert embedded.get_item("films", "4")["name"] == "Amélie"
    assert embedded.delete("films", {"ids": ["4", "4", "99"]})["deleted"] == 1
    with pytest.raises(NotFound):
        embedded.get_item("films", "4")
    with pytest.raises(InvalidArgument, match="ids"):
        embedded.delete("films", {"ids": "4"})


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ([{"vector": [1, 0, 0]}, {"vector": [1, "2", 0]}], r"queries\[1\] vector must hold only numbers"),
        ([{"vector": [1, 0, 0]}, {"vector": [1, 0, float("nan")]}], r"queries\[1\] vector 0 holds NaN"),
        ([{"vector": [1, 0, 1e39]}], r"queries\[0\] vector 0 holds NaN or Inf"),
        ([{"vector": [1, 0, 0]}, {"vector": [0, 0, 0]}], r"queries\[1\] .*all zeros"),
        ([{"vector": [1, 0, 0]}, {"vector": [[1, 0, 0]]}], r"queries\[1\]"),
    ],
)
def test_batch_vectors_are_checked_one_by_one_when_bad(
    embedded: JsonCollections, queries: list[Any], message: str
) -> None:
    _load(embedded)
    with pytest.raises(InvalidArgument, match=message):
        embedded.search("films", {"queries": queries})


def test_open_all_loads_what_is_stored_and_skips_a_broken_collection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = JsonCollections(open_collections("embedded", tmp_path))
    for name in ("a", "b", "c"):
        first.create({"name": name, "dim": 2})
        first.upsert(name, {"items": [{"id": "1", "vector": [1, 0]}, {"id": "2", "vector": [0, 1]}]})
    first.close()
    folder = tmp_path / "collections" / "b"
    segment = orjson.loads((folder / MANIFEST).read_bytes())["segments"][0]
    (folder / segment).write_bytes(b"not a segment")

    again = JsonCollections(open_collections("embedded", tmp_path))
    assert not again.collections.ready()
    assert again.collections.open_all() == ["a", "c"] and again.collections.ready()
    assert "could not open collection b" in caplog.text
    assert _ids(again.search("c", {"vector": [0, 1], "k": 1})) == ["2"]
    again.close()
    with pytest.raises(Unavailable, match="closed"):
        again.search("a", {"vector": [1, 0]})
    assert again.collections.open_all() == []  # after close: opens nothing, and says why in the log
    assert "stored collections not opened: the search store is closed" in caplog.text


def test_open_all_where_another_process_holds_the_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = JsonCollections(open_collections("embedded", tmp_path))
    holder.create({"name": "a", "dim": 2})
    second = open_collections("embedded", tmp_path)  # a second worker of `moorings serve --workers`
    assert second.open_all() == [] and second.ready()
    assert "in use by another Moorings process" in caplog.text
    holder.close()
    second.close()
