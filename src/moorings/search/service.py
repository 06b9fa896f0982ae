"""Collections: the protocol-free search API that REST, gRPC, the CLI and the Python API call.

Methods take and return typed values (:mod:`moorings.search.types`): specs, item batches and
search requests already checked by :mod:`moorings.search.validate`, and infos, outcomes, items
and search results. The front ends translate their wire format to and from these
(:mod:`moorings.search.json_codec` for JSON, ``moorings.grpc.search`` for protobuf).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from moorings.errors import InvalidArgument, MooringsError, NotFound
from moorings.search import blend as blending
from moorings.search.store import Backend, Store
from moorings.search.types import (
    CollectionInfo,
    CollectionSpec,
    DeleteOutcome,
    Item,
    ItemBatch,
    Matched,
    SearchRequest,
    SearchResult,
    UpsertOutcome,
)
from moorings.search.validate import check_id, check_ids

log = logging.getLogger(__name__)


class Collections:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._opened = threading.Event()
        self._closed = False

    # ---- start-up --------------------------------------------------------------------------------
    def open_all(self) -> list[str]:
        """Open every stored collection now (blocking: FAISS indexes are read, PostgreSQL stores
        connect), so no request pays for it; return the names opened. A collection that fails to
        open is logged and left to fail on use (one broken collection must not keep the models from
        serving), and so is a store that cannot list its collections. :meth:`ready` is True once this
        has run. Stops early when :meth:`close` is called meanwhile."""
        opened: list[str] = []
        try:
            names = [spec.name for spec in self.backend.specs()]
        except MooringsError as exc:  # e.g. another worker holds the embedded folder
            log.warning("stored collections not opened: %s", exc.message)
            names = []
        except Exception:
            log.exception("could not list the stored collections; each opens on first use")
            names = []
        for name in names:
            if self._closed:
                break
            try:
                self.backend.open(name)
                opened.append(name)
            except Exception:
                log.exception("could not open collection %s; it will fail on use", name)
        log.info("opened %d of %d stored collection(s)", len(opened), len(names))
        self._opened.set()
        return opened

    def ready(self) -> bool:
        """True once :meth:`open_all` has run: a readiness check for the server."""
        return self._opened.is_set()

    # ---- collections ----------------------------------------------------------------------------
    @staticmethod
    def _info(store: Store) -> CollectionInfo:
        return CollectionInfo(spec=store.spec, count=store.count(), details=store.describe())

    def list_all(self) -> list[CollectionInfo]:
        return [CollectionInfo(spec=spec) for spec in self.backend.specs()]

    def create(self, spec: CollectionSpec) -> CollectionInfo:
        return self._info(self.backend.create(spec))

    def store(self, name: str) -> Store:
        return self.backend.open(name)

    def spec(self, name: str) -> CollectionSpec:
        """The collection's spec (what a front end checks a request's vectors against)."""
        return self.store(name).spec

    def describe(self, name: str) -> CollectionInfo:
        return self._info(self.store(name))

    def drop(self, name: str) -> None:
        self.backend.drop(name)

    def advertise(self, url: str | None) -> None:
        """Say where this process serves the collections over REST (see :mod:`folder_lock`)."""
        self.backend.advertise(url)

    def close(self) -> None:
        self._closed = True
        self.backend.close()

    # ---- items -----------------------------------------------------------------------------------
    def upsert(self, name: str, batch: ItemBatch) -> UpsertOutcome:
        """A batch checked by :mod:`moorings.search.validate` (against this collection's spec)."""
        store = self.store(name)
        if batch.vectors.shape[1:] != (store.spec.dim,):
            raise InvalidArgument(
                f"vectors have dimension {batch.vectors.shape[1]}; the collection's is {store.spec.dim}"
            )
        store.upsert(batch)
        return UpsertOutcome(upserted=len(batch), count=store.count())

    def delete(self, name: str, ids: Sequence[Any]) -> DeleteOutcome:
        store = self.store(name)
        deleted = store.delete(check_ids(list(ids)))
        return DeleteOutcome(deleted=deleted, count=store.count())

    def get_item(self, name: str, item_id: str) -> Item:
        store = self.store(name)
        item = store.get(check_id(item_id, "item id"))
        if item is None:
            raise NotFound(f"collection {name!r} has no item {item_id[:100]!r}")
        return item

    def checksum(self, name: str) -> str:
        return self.store(name).checksum()

    # ---- search ----------------------------------------------------------------------------------
    def search(self, name: str, request: SearchRequest) -> list[SearchResult]:
        """One result per query, in order (see :meth:`run`)."""
        return self.run(self.store(name), request)

    def run(self, store: Store, request: SearchRequest) -> list[SearchResult]:
        """Resolve id/name queries to vectors, search them in one call, exclude each query's own item.

        Hits keep their metadata; ``request.include_metadata`` is applied when writing the answer."""
        k, blend, dim = request.k, request.blend, store.spec.dim
        if request.vectors is not None:
            if request.vectors.ndim != 2 or request.vectors.shape[1] != dim:
                raise InvalidArgument(
                    f"the queries have shape {request.vectors.shape}; this collection's dimension is {dim}"
                )
            raw = store.search(request.vectors, blending.candidates(k, blend), request.filter)
            if blend is None:  # the store answered at most k per query: nothing to re-rank or cut
                return list(map(SearchResult, raw))
            return [SearchResult(hits=blending.apply(hits, blend, k)) for hits in raw]
        vectors = []
        matched: list[Item | None] = []
        for query in request.queries:
            item: Item | None = None
            if query.item_id is not None:
                item = store.get(query.item_id)
                if item is None:
                    raise NotFound(f"collection {store.spec.name!r} has no item {query.item_id[:100]!r}")
            elif query.name is not None:
                item = store.find_name(query.name)
                if item is None:
                    raise NotFound(
                        f"no item of collection {store.spec.name!r} has a name like {query.name[:100]!r}"
                    )
            matched.append(item)
            vector = item.vector if item is not None else query.vector
            assert vector is not None
            if vector.shape != (dim,):
                raise InvalidArgument(
                    f"a query vector has dimension {vector.shape}; the collection's is {dim}"
                )
            vectors.append(vector)
        if not vectors:
            raise InvalidArgument("a search needs at least one query")
        fetch = blending.candidates(k, blend) + (1 if any(matched) else 0)
        queries = np.ascontiguousarray(np.stack(vectors), dtype=np.float32)
        raw = store.search(queries, fetch, request.filter)
        results = []
        for item, hits in zip(matched, raw, strict=True):
            if item is None:
                results.append(SearchResult(hits=blending.apply(hits, blend, k)))
            else:
                found = blending.apply(hits.without(item.id), blend, k)
                results.append(SearchResult(hits=found, matched=Matched(item.id, item.name)))
        return results
