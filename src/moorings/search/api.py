"""The Python API of embedding search, in this process (no server)::

from moorings.search.api import Search

with Search(data_dir="moorings-data") as search:          # or store="postgresql://..."
    films = search.create("films", dim=64)
    films.upsert(ids, vectors, names=titles, metadata=[{"year": y} for y in years])
    films.search(name="rogue one", k=10)
    films.search(vector, k=5, filter={"year": {"gte": 2000}}, blend={"field": "freshness", "weight": 0.2})
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from moorings.search import blend as blending
from moorings.search import json_codec as codec
from moorings.search.backends import open_collections
from moorings.search.filters import parse_filter
from moorings.search.types import CollectionSpec, Query, SearchRequest
from moorings.search.validate import as_vectors, batch_from_arrays, check_id, check_k, normalise


class Collection:
    def __init__(self, search: Search, name: str) -> None:
        self.search_api = search
        self.name = name

    @property
    def _store(self) -> Any:
        return self.search_api.service.store(self.name)

    @property
    def spec(self) -> CollectionSpec:
        spec: CollectionSpec = self._store.spec
        return spec

    def count(self) -> int:
        return int(self._store.count())

    def describe(self) -> dict[str, Any]:
        return codec.info_json(self.search_api.service.describe(self.name))

    def checksum(self) -> str:
        return self.search_api.service.checksum(self.name)

    def upsert(
        self,
        ids: Sequence[str | int],
        vectors: Any,
        names: list[str | None] | None = None,
        metadata: list[dict[str, Any] | None] | None = None,
    ) -> int:
        """Insert or replace items (one transaction); ids are strings (integers become their text)."""
        spec = self.spec
        batch = batch_from_arrays(list(ids), vectors, spec.dim, spec.metric, names, metadata)
        return self.search_api.service.upsert(self.name, batch).upserted

    def delete(self, ids: list[str]) -> int:
        return int(self._store.delete([check_id(i, "id") for i in ids]))

    def get(self, item_id: str) -> dict[str, Any]:
        return codec.item_json(self.search_api.service.get_item(self.name, item_id))

    def search(
        self,
        vector: Any = None,
        *,
        id: str | None = None,
        name: str | None = None,
        k: int = 10,
        filter: Any = None,
        blend: Any = None,
    ) -> list[dict[str, Any]]:
        """The k nearest items (dicts with id, score, name, metadata) to a vector, an item or a name."""
        given = [v is not None for v in (vector, id, name)]
        if sum(given) != 1:
            raise ValueError("pass exactly one of vector, id or name")
        if vector is not None:
            return self.search_many(np.asarray(vector)[None, :], k=k, filter=filter, blend=blend)[0]
        query = Query(item_id=check_id(id, "id")) if id is not None else Query(name=name)
        return self._run([query], k, filter, blend)[0]

    def search_many(
        self,
        vectors: Any,
        k: int = 10,
        filter: Any = None,
        blend: Any = None,
    ) -> list[list[dict[str, Any]]]:
        spec = self.spec
        array = normalise(as_vectors(vectors, spec.dim), spec.metric)
        return self._run([], k, filter, blend, array)

    def _run(
        self, queries: list[Query], k: int, flt: Any, blend: Any, vectors: Any = None
    ) -> list[list[dict[str, Any]]]:
        """``queries``, or (when all are vectors) ``vectors``: the (n, dim) matrix of them."""
        request = SearchRequest(
            queries=queries,
            vectors=vectors,
            k=check_k(k),
            filter=parse_filter(flt),
            blend=blending.parse_blend(blend),
        )
        results = self.search_api.service.search(self.name, request)
        return [codec.hit_dicts(r.hits) for r in results]


class Search:
    def __init__(
        self, data_dir: str | Path = "moorings-data", store: str = "embedded", backend: str = "auto"
    ) -> None:
        self.service = open_collections(store, Path(data_dir), backend)

    def create(
        self, name: str, dim: int, metric: str = "cosine", index: str = "auto", reduce_to: int | None = None
    ) -> Collection:
        self.service.create(CollectionSpec.checked(name, dim, metric, index, reduce_to))
        return Collection(self, name)

    def collection(self, name: str) -> Collection:
        self.service.store(name)  # NotFound if there is none
        return Collection(self, name)

    def list(self) -> list[dict[str, Any]]:
        return [codec.info_json(info) for info in self.service.list_all()]

    def drop(self, name: str) -> None:
        self.service.drop(name)

    def close(self) -> None:
        self.service.close()

    def __enter__(self) -> Search:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
