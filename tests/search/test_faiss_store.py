"""The embedded store: persistence, atomic commits, replacement, deletes, compaction, locking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moorings.errors import NotFound, Unavailable
from moorings.search import faiss_store
from moorings.search.errors import AlreadyExists
from moorings.search.faiss_store import MANIFEST, FaissBackend
from moorings.search.types import CollectionSpec
from moorings.search.validate import batch_from_arrays
from tests.support.vectors import clustered


def _batch(ids: range, data: np.ndarray, metric: str = "cosine") -> object:
    return batch_from_arrays(
        [str(i) for i in ids],
        data[ids.start : ids.stop],
        data.shape[1],
        metric,  # type: ignore[arg-type]
        names=[f"item {i}" for i in ids],
        metadata=[{"n": i} for i in ids],
    )


def test_survives_reopen_with_same_results(tmp_path: Path) -> None:
    data = clustered(3000, 16)
    backend = FaissBackend(tmp_path, ann_threshold=1000)
    store = backend.create(CollectionSpec(name="films", dim=16))
    store.upsert(_batch(range(0, 2000), data))  # type: ignore[arg-type]
    store.upsert(_batch(range(2000, 3000), data))  # type: ignore[arg-type]
    assert store.describe()["index"] == "hnsw"
    before = store.search(data[:5] / np.linalg.norm(data[:5], axis=1, keepdims=True), 10, None)
    checksum = store.checksum()
    backend.close()

    backend = FaissBackend(tmp_path, ann_threshold=1000)
    store = backend.open("films")
    assert store.count() == 3000
    assert store.checksum() == checksum
    after = store.search(data[:5] / np.linalg.norm(data[:5], axis=1, keepdims=True), 10, None)
    assert [[h.id for h in hs] for hs in after] == [[h.id for h in hs] for hs in before]
    backend.close()


def test_upsert_replaces_and_same_batch_twice_is_idempotent(faiss_backend: FaissBackend) -> None:
    data = clustered(100, 8)
    store = faiss_backend.create(CollectionSpec(name="c", dim=8, metric="l2"))
    batch = _batch(range(0, 100), data, "l2")
    store.upsert(batch)  # type: ignore[arg-type]
    first = store.checksum()
    store.upsert(batch)  # type: ignore[arg-type]
    assert store.count() == 100
    assert store.checksum() == first
    changed = batch_from_arrays(["5"], data[6:7], 8, "l2", names=["changed"], metadata=[{"n": -1}])
    store.upsert(changed)
    item = store.get("5")
    assert item is not None and item.name == "changed" and np.allclose(item.vector, data[6])
    hits = store.search(data[6:7], 2, None)[0]
    assert {h.id for h in hits} == {"5", "6"}
    assert store.count() == 100


def test_hits_carry_the_current_name_and_metadata(faiss_backend: FaissBackend) -> None:
    """Hits are gathered from cached object columns: a replacement or delete must show at once."""
    data = clustered(50, 4)
    store = faiss_backend.create(CollectionSpec(name="c", dim=4, metric="l2"))
    store.upsert(_batch(range(0, 50), data, "l2"))  # type: ignore[arg-type]
    queries = data[[3, 7]]
    first = store.search(queries, 3, None)
    assert [(h.id, h.name, h.metadata) for h in (first[0][0], first[1][0])] == [
        ("3", "item 3", {"n": 3}),
        ("7", "item 7", {"n": 7}),
    ]
    store.upsert(batch_from_arrays(["3"], data[3:4], 4, "l2", names=["renamed"], metadata=[{"n": 30}]))
    store.delete(["7"])
    again = store.search(queries, 3, None)
    assert (again[0][0].id, again[0][0].name, again[0][0].metadata) == ("3", "renamed", {"n": 30})
    assert "7" not in {h.id for h in again[1]} and len(again[1]) == 3


def test_delete_and_compaction_keep_results_exact(
    faiss_backend: FaissBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faiss_store, "COMPACT_MIN_DEAD", 10)
    data = clustered(200, 8)
    store = faiss_backend.create(CollectionSpec(name="c", dim=8, metric="l2", index="hnsw"))
    store.upsert(_batch(range(0, 200), data, "l2"))  # type: ignore[arg-type]
    assert store.delete([str(i) for i in range(0, 100)] + ["missing"]) == 100
    assert store.count() == 100
    assert store.describe()["segments"] == 1  # compacted: 100 dead of 200 rows
    assert store.get("3") is None
    hits = store.search(data[:1], 100, None)[0]
    assert len(hits) == 100 and all(int(h.id) >= 100 for h in hits)


def test_crash_before_manifest_rename_leaves_last_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = clustered(50, 4)
    backend = FaissBackend(tmp_path)
    store = backend.create(CollectionSpec(name="c", dim=4))
    store.upsert(_batch(range(0, 20), data))  # type: ignore[arg-type]
    committed = store.checksum()

    real_write = faiss_store.atomic.write_bytes

    def crash(path: Path, payload: bytes) -> None:
        if path.name == MANIFEST:
            raise OSError("simulated crash before the manifest is replaced")
        real_write(path, payload)

    monkeypatch.setattr(faiss_store.atomic, "write_bytes", crash)
    with pytest.raises(OSError):
        store.upsert(_batch(range(20, 50), data))  # type: ignore[arg-type]
    monkeypatch.undo()
    backend.close()
    folder = tmp_path / "collections" / "c"
    reopened = FaissBackend(tmp_path).open("c")
    assert reopened.count() == 20 and reopened.checksum() == committed
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "seg-000001.npz"]  # orphan removed


def test_names_and_paths_are_checked(faiss_backend: FaissBackend) -> None:
    faiss_backend.create(CollectionSpec(name="a", dim=2))
    with pytest.raises(AlreadyExists):
        faiss_backend.create(CollectionSpec(name="a", dim=2))
    for bad in ("..", "../x", "a/b", ".hidden", ""):
        with pytest.raises(Exception, match="invalid collection name"):
            faiss_backend.open(bad)
    with pytest.raises(NotFound):
        faiss_backend.open("absent")
    faiss_backend.drop("a")
    with pytest.raises(NotFound):
        faiss_backend.open("a")
    assert faiss_backend.specs() == []


def test_a_second_process_cannot_open_the_same_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    backend = FaissBackend(tmp_path)
    code = (
        "from pathlib import Path; from moorings.search.faiss_store import FaissBackend\n"
        f"FaissBackend(Path({str(tmp_path)!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0 and Unavailable.__name__ in result.stderr
    backend.close()


def test_the_ann_index_is_saved_during_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after a large ingest must not cost a full index rebuild on the next open."""
    monkeypatch.setattr(faiss_store, "INDEX_SAVE_MIN_ROWS", 1000)
    data = clustered(4000, 16)
    backend = FaissBackend(tmp_path, ann_threshold=1000)
    store = backend.create(CollectionSpec(name="films", dim=16))
    store.upsert(_batch(range(0, 500), data))  # type: ignore[arg-type]
    assert not store.manifest.get("index")  # exact search below the threshold: nothing to save
    store.upsert(_batch(range(500, 2000), data))  # type: ignore[arg-type]
    assert store.manifest["index"]["rows"] == 2000  # the new HNSW index is on disk at once
    store.upsert(_batch(range(2000, 2400), data))  # type: ignore[arg-type]
    assert store.manifest["index"]["rows"] == 2000  # 400 new rows: not worth a save yet
    store.upsert(_batch(range(2400, 4000), data))  # type: ignore[arg-type]
    assert store.manifest["index"]["rows"] == 4000
    # what a crash leaves (no close): the saved index opens with every row and the same results
    queries = data[:5] / np.linalg.norm(data[:5], axis=1, keepdims=True)
    before = store.search(queries, 10, None)
    reopened = faiss_store.FaissStore(store.spec, store.folder)
    assert reopened.index is not None and reopened.index.ntotal == 4000
    after = reopened.search(queries, 10, None)
    assert [[h.id for h in hits] for hits in after] == [[h.id for h in hits] for hits in before]
    np.testing.assert_allclose(
        [[h.score for h in r] for r in after], [[h.score for h in r] for r in before], rtol=1e-5
    )
