"""Collections: the protocol-free search API that REST, gRPC, the CLI and the Python API call.

Methods take and return plain JSON-shaped values (dicts, lists) or validated objects; every
client value is checked here or in :mod:`moorings.search.validate` before a store sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from moorings.errors import InvalidArgument, MooringsError, NotFound
from moorings.observe import metrics
from moorings.search import blend as blending
from moorings.search.filters import parse_filter
from moorings.search.store import Backend, Store
from moorings.search.types import (
    MAX_NAME_CHARS,
    CollectionSpec,
    Item,
    ItemBatch,
    Query,
    SearchRequest,
    SearchResult,
    Vectors,
)
from moorings.search.validate import (
    MAX_BATCH,
    MAX_QUERIES,
    as_vectors,
    check_id,
    check_k,
    items_from_json,
    normalise,
)

OPTION_FIELDS = {"k", "filter", "blend", "include_metadata"}
SEARCH_FIELDS = {"vector", "id", "name", "queries", *OPTION_FIELDS}
QUERY_FIELDS = {"vector", "id", "name"}

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
    def _describe(self, store: Store) -> dict[str, Any]:
        return {**store.spec.to_json(), "count": store.count(), **store.describe()}

    def list_all(self) -> list[dict[str, Any]]:
        return [spec.to_json() for spec in self.backend.specs()]

    def create(self, body: Any) -> dict[str, Any]:
        spec = CollectionSpec.from_json(body)
        return self._describe(self.backend.create(spec))

    def store(self, name: str) -> Store:
        return self.backend.open(name)

    def describe(self, name: str) -> dict[str, Any]:
        return self._describe(self.store(name))

    def drop(self, name: str) -> dict[str, Any]:
        self.backend.drop(name)
        return {"dropped": name}

    def close(self) -> None:
        self._closed = True
        self.backend.close()

    # ---- items -----------------------------------------------------------------------------------
    def upsert(self, name: str, body: Any) -> dict[str, Any]:
        store = self.store(name)
        batch = items_from_json(body, store.spec.dim, store.spec.metric)
        store.upsert(batch)
        return {"upserted": len(batch), "count": store.count()}

    def upsert_batch(self, name: str, batch: ItemBatch) -> int:
        """A batch already checked by :func:`moorings.search.validate.batch_from_arrays`."""
        store = self.store(name)
        if batch.vectors.shape[1:] != (store.spec.dim,):
            raise InvalidArgument(
                f"vectors have dimension {batch.vectors.shape[1]}; the collection's is {store.spec.dim}"
            )
        store.upsert(batch)
        return len(batch)

    def delete(self, name: str, body: Any) -> dict[str, Any]:
        store = self.store(name)
        if not isinstance(body, dict) or set(body) != {"ids"} or not isinstance(body["ids"], list):
            raise InvalidArgument('the body must be {"ids": [id, ...]}')
        if not body["ids"] or len(body["ids"]) > MAX_BATCH:
            raise InvalidArgument(f"'ids' must hold 1 to {MAX_BATCH} ids")
        ids = [check_id(v, f"ids[{n}]") for n, v in enumerate(body["ids"])]
        return {"deleted": store.delete(list(dict.fromkeys(ids))), "count": store.count()}

    def get_item(self, name: str, item_id: str) -> dict[str, Any]:
        store = self.store(name)
        item = store.get(check_id(item_id, "item id"))
        if item is None:
            raise NotFound(f"collection {name!r} has no item {item_id[:100]!r}")
        return item.to_json()

    def checksum(self, name: str) -> str:
        return self.store(name).checksum()

    # ---- search ----------------------------------------------------------------------------------
    def parse_search(self, store: Store, body: Any) -> SearchRequest:
        if not isinstance(body, dict):
            raise InvalidArgument("the search body must be a JSON object")
        unknown = set(body) - SEARCH_FIELDS
        if unknown:
            raise InvalidArgument(f"unknown search field(s): {', '.join(sorted(unknown))}")
        given = [f for f in ("vector", "id", "name", "queries") if f in body]
        if len(given) != 1:
            raise InvalidArgument("a search needs exactly one of 'vector', 'id', 'name' or 'queries'")
        if given[0] == "queries":
            raw = body["queries"]
            if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_QUERIES:
                raise InvalidArgument(f"'queries' must be a list of 1 to {MAX_QUERIES} queries")
            matrix = self._vector_queries(store, raw)
            if matrix is not None:
                return self._request(body, [], matrix, batch=True)
            queries = [self._query(store, q, f"queries[{n}]") for n, q in enumerate(raw)]
            return self._request(body, queries, None, batch=True)
        single = self._query(store, {given[0]: body[given[0]]}, "query")
        return self._request(body, [single], None, batch=False)

    def parse_vectors(self, store: Store, array: Any, options: Any, what: str) -> SearchRequest:
        """A search whose queries come as an array (a binary body): shape (dim,) answers as a single
        search, (n, dim) as a batch; ``options`` (a JSON object or None) may hold k, filter, blend and
        include_metadata."""
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise InvalidArgument("the search options must be a JSON object")
        unknown = set(options) - OPTION_FIELDS
        if unknown:
            raise InvalidArgument(
                f"field(s) {', '.join(sorted(unknown))} cannot go with binary queries; the options "
                f"may hold {', '.join(sorted(OPTION_FIELDS))}"
            )
        batch = array.ndim == 2
        if batch and not 1 <= len(array) <= MAX_QUERIES:
            raise InvalidArgument(f"{what} must hold 1 to {MAX_QUERIES} queries, got {len(array)}")
        matrix = normalise(as_vectors(array, store.spec.dim, what), store.spec.metric, f"{what} row")
        return self._request(options, [], matrix, batch)

    @staticmethod
    def _request(body: dict[str, Any], queries: list[Query], vectors: Any, batch: bool) -> SearchRequest:
        include = body.get("include_metadata", True)
        if not isinstance(include, bool):
            raise InvalidArgument("'include_metadata' must be true or false")
        return SearchRequest(
            queries=queries,
            vectors=vectors,
            k=check_k(body.get("k", 10)),
            filter=parse_filter(body.get("filter")),
            blend=blending.parse_blend(body.get("blend")),
            include_metadata=include,
            batch=batch,
        )

    @staticmethod
    def _vector_queries(store: Store, raw: list[Any]) -> Vectors | None:
        """All queries as one checked matrix when every one is a valid vector of the right length;
        None otherwise (then the per-query path runs, and names the first bad one)."""
        dim = store.spec.dim
        if not all(
            isinstance(q, dict) and len(q) == 1 and isinstance(v := q.get("vector"), list) and len(v) == dim
            for q in raw
        ):
            return None
        try:
            inferred = np.array([q["vector"] for q in raw])  # strings stay strings: no silent parsing
        except (ValueError, TypeError):
            return None
        if inferred.ndim != 2 or inferred.dtype.kind not in "iuf":
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            matrix = inferred.astype(np.float32)
        if not np.isfinite(matrix).all():
            return None
        if store.spec.metric == "cosine" and not (np.linalg.norm(matrix, axis=1) > 0).all():
            return None
        return normalise(matrix, store.spec.metric)

    def _query(self, store: Store, raw: Any, where: str) -> Query:
        if not isinstance(raw, dict) or len(raw) != 1 or not set(raw) <= QUERY_FIELDS:
            raise InvalidArgument(f"{where} must be an object with one of 'vector', 'id' or 'name'")
        ((kind, value),) = raw.items()
        if kind == "vector":
            if not isinstance(value, list) or not value:
                raise InvalidArgument(
                    f"{where}: 'vector' must be a non-empty list of {store.spec.dim} numbers"
                )
            if any(isinstance(v, list) for v in value):
                raise InvalidArgument(f"{where}: 'vector' is one vector; send several in 'queries'")
            vector = normalise(as_vectors(value, store.spec.dim, f"{where} vector"), store.spec.metric, where)
            return Query(vector=vector[0])
        if kind == "id":
            return Query(item_id=check_id(value, f"{where} id"))
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
            raise InvalidArgument(
                f"{where}: 'name' must be a non-empty string of at most {MAX_NAME_CHARS} characters"
            )
        return Query(name=value)

    def search(self, name: str, body: Any) -> dict[str, Any]:
        return self.answer(*self.find(name, body))

    def search_vectors(
        self, name: str, array: Any, options: Any, what: str = "the queries"
    ) -> dict[str, Any]:
        """:meth:`search` for queries sent as an array (see :meth:`parse_vectors`)."""
        return self.answer(*self.find_vectors(name, array, options, what))

    def find(self, name: str, body: Any) -> tuple[SearchRequest, list[SearchResult]]:
        """A search body's parsed request and its results (the front ends write the answer)."""
        store = self.store(name)
        request = self.parse_search(store, body)
        return request, self.run(store, request)

    def find_vectors(
        self, name: str, array: Any, options: Any, what: str
    ) -> tuple[SearchRequest, list[SearchResult]]:
        store = self.store(name)
        request = self.parse_vectors(store, array, options, what)
        return request, self.run(store, request)

    @staticmethod
    def answer(request: SearchRequest, results: list[SearchResult]) -> dict[str, Any]:
        """The JSON answer: ``{"results": [...]}`` for a batch, the one result otherwise."""
        include = request.include_metadata
        if request.batch:
            return {"results": [r.to_json(include) for r in results]}
        return results[0].to_json(include)

    def run(self, store: Store, request: SearchRequest) -> list[SearchResult]:
        """:meth:`_run`, counted and timed in the metrics under the collection's name."""
        start = time.perf_counter()
        outcome = "error"
        try:
            results = self._run(store, request)
            outcome = "ok"
            return results
        finally:
            metrics.search_done(store.spec.name, outcome, time.perf_counter() - start)

    def _run(self, store: Store, request: SearchRequest) -> list[SearchResult]:
        """Resolve id/name queries to vectors, search them in one call, exclude each query's own item.

        Hits keep their metadata; ``request.include_metadata`` is applied when writing the answer."""
        k, blend = request.k, request.blend
        if request.vectors is not None:
            raw = store.search(request.vectors, blending.candidates(k, blend), request.filter)
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
            vectors.append(vector)
        fetch = blending.candidates(k, blend) + (1 if any(matched) else 0)
        queries = np.ascontiguousarray(np.stack(vectors), dtype=np.float32)
        raw = store.search(queries, fetch, request.filter)
        results = []
        for item, hits in zip(matched, raw, strict=True):
            if item is not None:
                hits = [h for h in hits if h.id != item.id]
            info = None if item is None else {"id": item.id, "name": item.name}
            results.append(SearchResult(hits=blending.apply(hits, blend, k), matched=info))
        return results
