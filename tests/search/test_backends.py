"""The same behaviour from every backend: embedded FAISS, pgvector and cube on a real PostgreSQL."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from moorings.errors import InvalidArgument, NotFound
from moorings.search.backends import open_collections
from moorings.search.faiss_store import FaissBackend
from moorings.search.json_api import JsonCollections
from moorings.search.postgres import PostgresBackend
from moorings.search.reduce import exact_neighbours, recall
from moorings.search.service import Collections
from moorings.search.store import Backend
from moorings.search.types import CollectionSpec, ItemBatch
from moorings.search.validate import batch_from_arrays
from tests.support.postgres import DEBIAN_BIN, debian_postgres_without_pgvector, fresh_database
from tests.support.vectors import clustered, queries_near

_numbers = itertools.count()


def open_backend(kind: str, tmp_path: Path, postgres_url: str) -> Backend:
    if kind == "faiss":
        return FaissBackend(tmp_path / "data", ann_threshold=2000)
    url = fresh_database(postgres_url, f"t{next(_numbers)}_{kind}")
    return PostgresBackend(url, backend=kind)


@pytest.fixture(params=["faiss", "pgvector", "cube"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JsonCollections]:
    url = request.getfixturevalue("postgres_url") if request.param != "faiss" else ""
    backend = open_backend(request.param, tmp_path, url)
    yield JsonCollections(Collections(backend))
    backend.close()


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
    ("4", "Notting Hill", [0.0, 1.0, 0.0], {"year": 1999, "genre": "romance", "fresh": 0.5}),
    ("5", "100% Wolf_Man", [0.1, 0.9, 0.1], {"year": 2020, "genre": "romance"}),
    ("6", "Alien", [0.7, 0.0, 0.7], {"year": 1979, "genre": "horror", "fresh": 1.0}),
]


def _load(c: JsonCollections) -> None:
    c.create({"name": "films", "dim": 3})
    c.upsert("films", {"items": [{"id": i, "name": n, "vector": v, "metadata": m} for i, n, v, m in FILMS]})


def _ids(answer: dict[str, object]) -> list[str]:
    return [h["id"] for h in answer["hits"]]  # type: ignore[attr-defined, index]


def test_search_name_filter_blend(service: JsonCollections) -> None:
    _load(service)
    assert _ids(service.search("films", {"vector": [1, 0, 0.1], "k": 3})) == ["1", "2", "3"]
    by_name = service.search("films", {"name": "rogue one", "k": 2})
    assert by_name["matched"]["id"] == "1" and _ids(by_name) == ["2", "3"]
    assert (
        service.search("films", {"name": "% wolf_", "k": 1})["matched"]["id"] == "5"
    )  # LIKE chars are literal
    assert service.search("films", {"name": "story solo", "k": 1})["matched"]["id"] == "3"
    romance = service.search("films", {"vector": [1, 0, 0], "k": 5, "filter": {"genre": "romance"}})
    assert sorted(_ids(romance)) == ["4", "5"]
    ranged = service.search(
        "films", {"vector": [1, 0, 0], "k": 9, "filter": {"year": {"gt": 2015, "lte": 2018}}}
    )
    assert sorted(_ids(ranged)) == ["1", "3"]
    listed = service.search(
        "films", {"vector": [1, 0, 0], "filter": {"genre": {"in": ["horror", "romance"]}}}
    )
    assert sorted(_ids(listed)) == ["4", "5", "6"]
    blended = service.search(
        "films", {"vector": [1, 0, 0.1], "k": 3, "blend": {"field": "fresh", "weight": 0.5}}
    )
    assert _ids(blended) == ["3", "6", "1"]
    assert service.get_item("films", "4")["name"] == "Notting Hill"
    assert service.delete("films", {"ids": ["4", "nope"]})["deleted"] == 1
    assert service.describe("films")["count"] == 5


def test_upsert_is_idempotent_and_rejects_bad_batches_whole(service: JsonCollections) -> None:
    service.create({"name": "c", "dim": 4, "metric": "l2"})
    data = clustered(300, 4)
    items = [{"id": str(i), "vector": v.tolist(), "metadata": {"i": i}} for i, v in enumerate(data)]
    service.upsert("c", {"items": items})
    first = service.checksum("c")
    service.upsert("c", {"items": items})
    assert service.checksum("c") == first and service.describe("c")["count"] == 300
    bad = [*items[:5], {"id": "x", "vector": [1, 2, float("nan"), 4]}]
    with pytest.raises(InvalidArgument, match="NaN"):
        service.upsert("c", {"items": bad})
    assert service.checksum("c") == first


def test_concurrent_writers_leave_no_duplicates(service: JsonCollections) -> None:
    service.create({"name": "c", "dim": 4})
    data = clustered(400, 4)
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for start in range(0, 400, 50):  # every writer writes every id, in a different order
                part = range((start + offset) % 400, (start + offset) % 400 + 50)
                items = [{"id": str(i), "vector": data[i].tolist(), "name": f"n{i}"} for i in part]
                service.upsert("c", {"items": items})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(o,)) for o in (0, 100, 200, 300)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert service.describe("c")["count"] == 400
    hits = service.search("c", {"vector": data[7].tolist(), "k": 400})["hits"]
    assert len(hits) == 400 and len({h["id"] for h in hits}) == 400


@pytest.mark.parametrize("kind", ["faiss", "pgvector", "cube"])
def test_recall_at_defaults_on_clustered_data(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """pgvector HNSW and the embedded HNSW at defaults ≥ 0.95; cube (reduced 128 → 64, exact
    re-ranking) is measured against the same bar."""
    url = request.getfixturevalue("postgres_url") if kind != "faiss" else ""
    backend = open_backend(kind, tmp_path, url)
    n, dim = 4000, 128
    data = clustered(n, dim, seed=3)
    store = backend.create(CollectionSpec("r", dim))
    batch = batch_from_arrays([str(i) for i in range(n)], data, dim, "cosine")
    # two batches: cube fits its projection on the first 500 and refits when the collection grows 4x
    store.upsert(ItemBatch(batch.ids[:500], batch.vectors[:500], batch.names[:500], batch.metadata[:500]))
    store.upsert(ItemBatch(batch.ids[500:], batch.vectors[500:], batch.names[500:], batch.metadata[500:]))
    if kind == "cube":
        assert store.fit_rows == n  # type: ignore[attr-defined]
    queries = batch_from_arrays([str(i) for i in range(100)], queries_near(data, 100), dim, "cosine").vectors
    truth = exact_neighbours(batch.vectors, queries, 10, "cosine")
    found = np.array([[int(h.id) for h in hits] for hits in store.search(queries, 10, None)])
    value = recall(found, truth)
    backend.close()
    assert value >= 0.95, f"{kind}: recall@10 {value:.3f}"


@pytest.mark.parametrize("kind", ["pgvector", "cube"])
def test_a_collection_dropped_by_another_process_is_404(kind: str, postgres_url: str) -> None:
    url = fresh_database(postgres_url, f"t{next(_numbers)}_drop_{kind}")
    first, second = PostgresBackend(url, kind), PostgresBackend(url, kind)
    try:
        first.create(CollectionSpec("gone", 2))
        stale = second.open("gone")
        first.drop("gone")
        with pytest.raises(NotFound, match="dropped meanwhile"):
            stale.search(np.ones((1, 2), dtype=np.float32), 1, None)
    finally:
        first.close()
        second.close()


@pytest.mark.skipif(not DEBIAN_BIN.is_dir(), reason="Debian's PostgreSQL 15 is not installed")
def test_auto_picks_cube_where_pgvector_is_missing() -> None:
    from moorings.errors import Unavailable

    with debian_postgres_without_pgvector() as url:
        with pytest.raises(Unavailable, match="no 'vector' extension"):
            PostgresBackend(url, "pgvector")
        backend = PostgresBackend(url, "auto")
        try:
            assert backend.kind == "cube" and not backend.extensions["vector"]
            service = JsonCollections(Collections(backend))
            _load(service)
            assert service.describe("films")["backend"] == "cube"
            assert _ids(service.search("films", {"vector": [1, 0, 0.1], "k": 3})) == ["1", "2", "3"]
            assert service.search("films", {"name": "ROGUE one", "k": 1})["matched"]["id"] == "1"
            with pytest.raises(InvalidArgument, match="cube backend orders by Euclidean"):
                service.create({"name": "ip", "dim": 3, "metric": "ip"})
        finally:
            backend.close()


def test_open_all_opens_every_collection_then_is_ready(service: JsonCollections) -> None:
    _load(service)
    service.create({"name": "empty", "dim": 4})
    fresh = JsonCollections(Collections(service.collections.backend))
    assert not fresh.collections.ready()
    assert sorted(fresh.collections.open_all()) == ["empty", "films"]
    assert fresh.collections.ready()
    assert _ids(fresh.search("films", {"name": "rogue one", "k": 2})) == ["2", "3"]


def test_open_all_on_an_empty_embedded_store_creates_nothing(tmp_path: Path) -> None:
    collections = open_collections("embedded", tmp_path / "data")
    assert collections.open_all() == [] and collections.ready()
    assert not (tmp_path / "data").exists()  # no folder, no lock: search was never used
    collections.close()
