"""The embedded backend: collections in this process, indexed with FAISS, persisted to a folder.

Layout of ``DATA_DIR/collections/<name>/``::

    MANIFEST.json      the last committed state: spec, segment files in order, saved index
    seg-000001.npz     one committed batch: upserted items (ids, vectors, names, metadata) or deleted ids
    index-000007.faiss a saved ANN index covering the first ``rows`` rows replayed from the segments
    proj-000007.npy    the reduce_to projection (when the collection has one)

A write appends a segment (written to a temporary name, fsynced, renamed) and then replaces
``MANIFEST.json`` the same way: the rename is the commit. After ``kill -9`` at any point the
folder holds the last committed manifest; files it does not name are removed at the next open.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from moorings.errors import NotFound
from moorings.search import atomic, reduce
from moorings.search.checksum import digest
from moorings.search.errors import AlreadyExists, StoreClosed
from moorings.search.faiss_index import ANN_THRESHOLD, AnnIndex, choose_kind, ivf_lists
from moorings.search.filters import Filter
from moorings.search.folder_lock import FolderLock
from moorings.search.names import check_collection_name
from moorings.search.rows import Rows
from moorings.search.rwlock import RWLock
from moorings.search.types import CollectionSpec, Hits, Item, ItemBatch, Vectors

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.json"
#: a filter matching at most this many items is answered by exact search over those items
EXACT_SUBSET = 8192
#: compact when this share of rows is dead (and at least COMPACT_MIN_DEAD rows are)
COMPACT_DEAD_SHARE = 0.25
COMPACT_MIN_DEAD = 1000
MAX_SEGMENTS = 256
#: save the ANN index during ingest once the rows it lacks on disk reach this share of the saved
#: ones (and at least INDEX_SAVE_MIN_ROWS), so a crash costs a bounded rebuild on the next open
INDEX_SAVE_SHARE = 0.25
INDEX_SAVE_MIN_ROWS = 10_000
RERANK_FACTOR = 10


def _write_segment(path: Path, op: str, batch: ItemBatch | None, ids: list[str] | None = None) -> None:
    info: dict[str, Any] = {"op": op}
    vectors = np.zeros((0, 0), dtype=np.float32)
    if batch is not None:
        info.update(ids=batch.ids, names=batch.names, metadata=batch.metadata)
        vectors = batch.vectors
    else:
        info["ids"] = ids
    blob = np.frombuffer(orjson.dumps(info), dtype=np.uint8)
    atomic.write_with(path, lambda f: np.savez(f, vectors=vectors, info=blob))


def _read_segment(path: Path) -> tuple[str, ItemBatch | None, list[str]]:
    with np.load(path, allow_pickle=False) as data:
        info = orjson.loads(data["info"].tobytes())
        if info["op"] == "delete":
            return "delete", None, list(info["ids"])
        batch = ItemBatch(
            ids=list(info["ids"]),
            vectors=np.ascontiguousarray(data["vectors"], dtype=np.float32),
            names=list(info["names"]),
            metadata=list(info["metadata"]),
        )
        return "upsert", batch, batch.ids


class FaissStore:
    """One collection. Thread-safe: searches share a read lock, writes take the write lock."""

    def __init__(self, spec: CollectionSpec, folder: Path, ann_threshold: int = ANN_THRESHOLD) -> None:
        self.spec = spec
        self.folder = folder
        self.ann_threshold = ann_threshold
        self.inner_product = spec.metric != "l2"
        self.rows = Rows(spec.dim)
        self.index: AnnIndex | None = None
        self.projection: reduce.Projection | None = None
        self.manifest: dict[str, Any] = {}
        self._lock = RWLock()
        self._ivf_trained_rows = 0
        self._load()

    # ---- persistence -------------------------------------------------------------------------
    @staticmethod
    def create(spec: CollectionSpec, folder: Path) -> None:
        manifest = {
            "format": 1,
            "spec": spec.to_json(),
            "segments": [],
            "index": None,
            "projection": None,
            "next": 1,
        }
        folder.mkdir()
        atomic.write_bytes(folder / MANIFEST, orjson.dumps(manifest))

    @staticmethod
    def _next_name(manifest: dict[str, Any], prefix: str, suffix: str) -> str:
        """A fresh file name, counted in the manifest being prepared (committed with it)."""
        number = int(manifest["next"])
        manifest["next"] = number + 1
        return f"{prefix}-{number:06d}{suffix}"

    def _commit(self, manifest: dict[str, Any]) -> None:
        atomic.write_bytes(self.folder / MANIFEST, orjson.dumps(manifest))
        self.manifest = manifest

    def _load(self) -> None:
        self.manifest = orjson.loads((self.folder / MANIFEST).read_bytes())
        keep = {MANIFEST, *self.manifest["segments"]}
        for key in ("index", "projection"):
            if self.manifest.get(key):
                keep.add(self.manifest[key]["file"] if key == "index" else self.manifest[key])
        for path in self.folder.iterdir():  # files of a write that never committed
            if path.name not in keep:
                path.unlink(missing_ok=True)
        for name in self.manifest["segments"]:
            _, batch, ids = _read_segment(self.folder / name)
            if batch is not None:
                self.rows.append(batch)
            else:
                self.rows.kill(ids)
        if self.manifest.get("projection"):
            data = (self.folder / self.manifest["projection"]).read_bytes()
            self.projection = reduce.Projection.from_bytes(data, self.spec.dim)
        saved = self.manifest.get("index")
        kind = choose_kind(self.spec.index, self.rows.live_count, self.ann_threshold)
        if saved and saved["kind"] == kind and saved["rows"] <= self.rows.n:
            dim = self.projection.dim if self.projection else self.spec.dim
            self.index = AnnIndex.load(kind, dim, self._index_ip, (self.folder / saved["file"]).read_bytes())
            if saved["rows"] < self.rows.n:
                self.index.add(self._index_vectors(saved["rows"], self.rows.n))
            self._ivf_trained_rows = int(saved.get("trained_rows", saved["rows"]))
        elif self.rows.n:
            self._rebuild_index()

    def _maybe_save_index(self) -> None:
        if self.index is None or self.index.kind == "flat":
            return
        saved = self.manifest.get("index")
        on_disk = saved["rows"] if saved and saved["kind"] == self.index.kind else 0
        missing = self.index.ntotal - on_disk
        if missing >= max(INDEX_SAVE_MIN_ROWS, int(on_disk * INDEX_SAVE_SHARE)):
            self._save_index()

    def _save_index(self) -> None:
        """Persist the ANN index (flat indexes are rebuilt on open: adding rows is all they need)."""
        if self.index is None or self.index.kind == "flat":
            return
        saved = self.manifest.get("index")
        if saved and saved["rows"] == self.index.ntotal and saved["kind"] == self.index.kind:
            return
        manifest = dict(self.manifest)  # the live manifest changes only in _commit
        name = self._next_name(manifest, "index", ".faiss")
        atomic.write_bytes(self.folder / name, self.index.serialize())
        manifest["index"] = {
            "file": name,
            "rows": self.index.ntotal,
            "kind": self.index.kind,
            "trained_rows": self._ivf_trained_rows,
        }
        self._commit(manifest)
        if saved:
            (self.folder / saved["file"]).unlink(missing_ok=True)

    # ---- index maintenance --------------------------------------------------------------------
    @property
    def _index_ip(self) -> bool:
        # a projected index uses L2 on centred coordinates, except for plain inner product
        return self.inner_product if self.projection is None else self.spec.metric == "ip"

    def _index_vectors(self, start: int, end: int) -> Vectors:
        vectors = self.rows.vectors[start:end]
        if self.projection is None:
            return np.ascontiguousarray(vectors)
        return self.projection.apply(vectors)

    def _index_queries(self, queries: Vectors) -> Vectors:
        if self.projection is None:
            return queries
        if self.spec.metric == "ip":
            return np.ascontiguousarray(queries @ self.projection.components.T, dtype=np.float32)
        return self.projection.apply(queries)

    def _rebuild_index(self) -> None:
        kind = choose_kind(self.spec.index, self.rows.live_count, self.ann_threshold)
        dim = self.projection.dim if self.projection else self.spec.dim
        index = AnnIndex(kind, dim, self._index_ip)
        index.build(self._index_vectors(0, self.rows.n))
        self.index = index
        self._ivf_trained_rows = self.rows.n

    def _after_append(self, start: int, end: int) -> None:
        kind = choose_kind(self.spec.index, self.rows.live_count, self.ann_threshold)
        if self.index is None or self.index.kind != kind:
            self._rebuild_index()
        elif (
            kind == "ivf"
            and self.rows.n >= 4 * max(self._ivf_trained_rows, 1000)
            and ivf_lists(self.rows.n) > ivf_lists(self._ivf_trained_rows)
        ):
            self._rebuild_index()  # more data than the centroids were trained for
        else:
            self.index.add(self._index_vectors(start, end))

    def _maybe_compact(self) -> None:
        dead = self.rows.dead_count
        many_dead = dead >= COMPACT_MIN_DEAD and dead >= COMPACT_DEAD_SHARE * self.rows.n
        if many_dead or len(self.manifest["segments"]) > MAX_SEGMENTS:
            self._compact()

    def _compact(self) -> None:
        """Rewrite the live items as one segment, refit the projection, rebuild and save the index."""
        live = self.rows.live_batch()
        old = set(self.folder.iterdir())
        manifest = dict(self.manifest)  # the live manifest changes only in _commit
        segment = self._next_name(manifest, "seg", ".npz")
        _write_segment(self.folder / segment, "upsert", live)
        projection = None
        if self.spec.reduce_to and len(live):
            projection = reduce.fit(live.vectors, self.spec.reduce_to)
            manifest["projection"] = self._next_name(manifest, "proj", ".npy")
            atomic.write_bytes(self.folder / manifest["projection"], projection.to_bytes())
        rows = Rows(self.spec.dim)
        rows.append(live)
        manifest["segments"] = [segment]
        manifest["index"] = None
        self._commit(manifest)
        self.rows, self.projection = rows, projection
        for path in old:
            if path.name != MANIFEST and path.name not in (segment, manifest.get("projection")):
                path.unlink(missing_ok=True)
        self.index = None
        if self.rows.n:
            self._rebuild_index()
            self._save_index()

    # ---- Store protocol -------------------------------------------------------------------------
    def count(self) -> int:
        return self.rows.live_count

    def upsert(self, batch: ItemBatch) -> None:
        with self._lock.write():
            manifest = dict(self.manifest)  # the live manifest changes only in _commit
            segment = self._next_name(manifest, "seg", ".npz")
            _write_segment(self.folder / segment, "upsert", batch)
            manifest["segments"] = [*manifest["segments"], segment]
            fit_now = self.spec.reduce_to is not None and self.projection is None
            if fit_now:
                assert self.spec.reduce_to is not None
                projection = reduce.fit(batch.vectors, self.spec.reduce_to)
                manifest["projection"] = self._next_name(manifest, "proj", ".npy")
                atomic.write_bytes(self.folder / manifest["projection"], projection.to_bytes())
            self._commit(manifest)
            if fit_now:
                self.projection = projection
                self.index = None
            start, end = self.rows.append(batch)
            self._after_append(start, end)
            self._maybe_compact()
            self._maybe_save_index()

    def delete(self, ids: list[str]) -> int:
        with self._lock.write():
            present = [i for i in ids if i in self.rows.id_to_row]
            if not present:
                return 0
            manifest = dict(self.manifest)  # the live manifest changes only in _commit
            segment = self._next_name(manifest, "seg", ".npz")
            _write_segment(self.folder / segment, "delete", None, present)
            manifest["segments"] = [*manifest["segments"], segment]
            self._commit(manifest)
            count = self.rows.kill(present)
            self._maybe_compact()
            return count

    def _item(self, row: int) -> Item:
        return Item(
            id=self.rows.ids[row],
            vector=self.rows.vectors[row].copy(),
            name=self.rows.names[row],
            metadata=self.rows.metadata[row],
        )

    def get(self, item_id: str) -> Item | None:
        with self._lock.read():
            row = self.rows.id_to_row.get(item_id)
            return None if row is None else self._item(row)

    def find_name(self, text: str) -> Item | None:
        with self._lock.read():
            row = self.rows.find_name(text)
            return None if row is None else self._item(row)

    def _exact(self, query: Vectors, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k of one query over the given rows: (rows, scores), nearest first."""
        data = self.rows.vectors[rows]
        if self.inner_product:
            scores = data @ query
        else:
            diff = data - query
            scores = -np.einsum("ij,ij->i", diff, diff)
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return rows[top], scores[top]

    def search(self, queries: Vectors, k: int, flt: Filter | None) -> list[Hits]:
        with self._lock.read():
            n = self.rows.n
            allowed = self.rows.alive
            if flt is None:
                matching = self.rows.live_count  # the live rows, counted without a pass over them
            else:
                allowed = allowed & flt.mask(self.rows.column, self.rows.numeric)
                matching = int(np.count_nonzero(allowed))  # no int conversion of every flag, as sum() does
            if matching == 0 or self.index is None:
                return [Hits([], [], [], []) for _ in queries]
            kk = min(k, matching)
            results: list[tuple[np.ndarray, np.ndarray]] = []
            if flt is not None and matching <= EXACT_SUBSET:
                subset = np.flatnonzero(allowed)
                results = [self._exact(q, subset, kk) for q in queries]
            else:
                selector = None if matching == n else allowed
                fetch = kk if self.projection is None else max(kk * RERANK_FACTOR, 100)
                scores, labels = self.index.search(
                    self._index_queries(queries), min(fetch, matching), selector
                )
                if self.projection is None and (labels[:, kk - 1] >= 0).all():
                    # the common case: every query found its k items; no per-query work
                    return self._matrix_hits(labels, scores)
                subset = None
                for q, s, lab in zip(queries, scores, labels, strict=True):
                    found = lab[lab >= 0]
                    if len(found) < kk:  # the ANN walk ran out of allowed items: answer exactly
                        subset = np.flatnonzero(allowed) if subset is None else subset
                        results.append(self._exact(q, subset, kk))
                    elif self.projection is not None:
                        results.append(self._exact(q, found, kk))
                    else:
                        results.append((found[:kk], s[: len(found)][:kk]))
            return self._hits(
                [rows.tolist() for rows, _ in results], [sc.astype(np.float64).tolist() for _, sc in results]
            )

    def _matrix_hits(self, labels: np.ndarray, scores: np.ndarray) -> list[Hits]:
        """Hits of every query from whole (queries, k) label and score matrices (under the read lock):
        each column is gathered for the whole matrix by one indexing call."""
        ids, names, metadata = (column[labels].tolist() for column in self.rows.objects())
        return list(map(Hits, ids, scores.astype(np.float64).tolist(), names, metadata))

    def _hits(self, rows: list[list[int]], scores: list[list[float]]) -> list[Hits]:
        """Hits of each query from its row numbers and scores (called under the read lock)."""
        ids, names, metadata = self.rows.ids, self.rows.names, self.rows.metadata
        return [
            Hits([ids[r] for r in rr], ss, [names[r] for r in rr], [metadata[r] for r in rr])
            for rr, ss in zip(rows, scores, strict=True)
        ]

    def checksum(self) -> str:
        with self._lock.read():
            r = self.rows
            return digest(
                (r.ids[row], r.vectors[row], r.names[row], r.metadata[row]) for row in np.flatnonzero(r.alive)
            )

    def describe(self) -> dict[str, object]:
        with self._lock.read():
            return {
                "backend": "faiss",
                "index": self.index.kind
                if self.index
                else choose_kind(self.spec.index, 0, self.ann_threshold),
                "rows": self.rows.n,
                "segments": len(self.manifest["segments"]),
            }

    def close(self) -> None:
        with self._lock.write():
            self._save_index()


class FaissBackend:
    """Every collection under ``DATA_DIR/collections``; one process at a time holds the folder."""

    name = "faiss"

    def __init__(self, data_dir: Path, ann_threshold: int = ANN_THRESHOLD) -> None:
        self.root = (Path(data_dir) / "collections").resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.ann_threshold = ann_threshold
        self._lock = FolderLock(self.root)
        self._stores: dict[str, FaissStore] = {}
        self._guard = threading.Lock()
        self._closed = False
        for path in self.root.iterdir():  # leftovers of a create or drop cut short
            if path.name.startswith((".tmp-", ".trash-")):
                shutil.rmtree(path, ignore_errors=True)

    def advertise(self, url: str | None) -> None:
        """Write the REST address at which this process serves the folder into its lock file."""
        self._lock.advertise(url)

    def _folder(self, name: str) -> Path:
        check_collection_name(name)
        folder = self.root / name
        if folder.is_symlink() or (folder.exists() and folder.resolve().parent != self.root):
            raise NotFound(f"no collection named {name!r}")
        return folder

    def specs(self) -> list[CollectionSpec]:
        specs = []
        for path in sorted(self.root.iterdir()):
            if not path.name.startswith(".") and (path / MANIFEST).is_file() and not path.is_symlink():
                specs.append(CollectionSpec.from_json(orjson.loads((path / MANIFEST).read_bytes())["spec"]))
        return specs

    def create(self, spec: CollectionSpec) -> FaissStore:
        with self._guard:
            if self._closed:
                raise StoreClosed
            folder = self._folder(spec.name)
            if folder.exists():
                raise AlreadyExists(f"collection {spec.name!r} already exists")
            staging = self.root / f".tmp-{spec.name}-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            FaissStore.create(spec, staging)
            os.rename(staging, folder)
            atomic.fsync_dir(self.root)
            store = FaissStore(spec, folder, self.ann_threshold)
            self._stores[spec.name] = store
            return store

    def open(self, name: str) -> FaissStore:
        with self._guard:
            if self._closed:
                raise StoreClosed
            store = self._stores.get(name)
            if store is not None:
                return store
            folder = self._folder(name)
            if not (folder / MANIFEST).is_file():
                raise NotFound(f"no collection named {name!r}")
            spec = CollectionSpec.from_json(orjson.loads((folder / MANIFEST).read_bytes())["spec"])
            store = FaissStore(spec, folder, self.ann_threshold)
            self._stores[name] = store
            return store

    def drop(self, name: str) -> None:
        with self._guard:
            folder = self._folder(name)
            if not (folder / MANIFEST).is_file():
                raise NotFound(f"no collection named {name!r}")
            self._stores.pop(name, None)
            trash = self.root / f".trash-{name}-{os.getpid()}"
            os.rename(folder, trash)
            atomic.fsync_dir(self.root)
            shutil.rmtree(trash, ignore_errors=True)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            for store in self._stores.values():
                try:
                    store.close()
                except OSError:
                    log.exception("could not save the index of collection %s", store.spec.name)
            self._stores.clear()
        self._lock.close()


__all__ = ["FaissBackend", "FaissStore"]
