"""The typed service: specs, batches and search requests in; infos, outcomes and results out."""

from __future__ import annotations

import numpy as np
import pytest

from moorings.errors import InvalidArgument, NotFound
from moorings.search.service import Collections
from moorings.search.types import (
    CollectionInfo,
    CollectionSpec,
    DeleteOutcome,
    Matched,
    Query,
    SearchRequest,
    UpsertOutcome,
)
from moorings.search.validate import batch_from_arrays, vector_query

SPEC = CollectionSpec("films", 3)
VECTORS = np.array([[1, 0, 0.1], [0.9, 0.1, 0.1], [0.8, 0.2, 0], [0, 1, 0]], dtype=np.float32)
NAMES = ["Rogue One", "The Force Awakens", "Solo", "Amélie"]


def _load(typed: Collections) -> None:
    typed.create(SPEC)
    batch = batch_from_arrays(["1", "2", "3", "4"], VECTORS, 3, "cosine", NAMES, [{"n": n} for n in range(4)])
    assert typed.upsert("films", batch) == UpsertOutcome(upserted=4, count=4)


def test_collections_are_described_by_infos(typed: Collections) -> None:
    created = typed.create(SPEC)
    assert created.spec == SPEC and created.count == 0 and created.details["backend"] == "faiss"
    assert typed.list_all() == [CollectionInfo(SPEC)]
    typed.drop("films")
    with pytest.raises(NotFound, match="no collection named 'films'"):
        typed.describe("films")


def test_search_by_vector_id_and_name_gives_typed_results(typed: Collections) -> None:
    _load(typed)
    queries = [vector_query([1, 0, 0.1], SPEC, "q"), Query(item_id="1"), Query(name="solo")]
    results = typed.search("films", SearchRequest(queries=queries, k=2, batch=True))
    assert [r.hits.ids for r in results] == [["1", "2"], ["2", "3"], ["2", "1"]]
    assert [r.matched for r in results] == [None, Matched("1", "Rogue One"), Matched("3", "Solo")]
    assert results[1].hits[0].name == "The Force Awakens" and results[1].hits.metadata[0] == {"n": 1}
    as_matrix = typed.search("films", SearchRequest(queries=[], vectors=VECTORS[:1] / np.float32(1.005), k=2))
    assert as_matrix[0].hits.ids == ["1", "2"]


def test_requests_built_without_the_checks_are_still_refused(typed: Collections) -> None:
    _load(typed)
    wrong = SearchRequest(queries=[], vectors=np.ones((1, 4), dtype=np.float32))
    with pytest.raises(InvalidArgument, match="dimension is 3"):
        typed.search("films", wrong)
    with pytest.raises(InvalidArgument, match="at least one query"):
        typed.search("films", SearchRequest(queries=[]))
    with pytest.raises(InvalidArgument, match="vectors have dimension 2"):
        typed.upsert("films", batch_from_arrays(["x"], np.ones((1, 2)), 2, "cosine"))


def test_delete_checks_ids_and_counts(typed: Collections) -> None:
    _load(typed)
    assert typed.delete("films", ["4", "4", 99]) == DeleteOutcome(deleted=1, count=3)
    with pytest.raises(InvalidArgument, match=r"ids\[0\]: an id is"):
        typed.delete("films", [""])
    with pytest.raises(InvalidArgument, match="'ids' must hold 1 to"):
        typed.delete("films", [])
    assert typed.get_item("films", "3").name == "Solo"
