"""The collections API in JSON: bodies in, JSON-shaped answers out, through the typed service.

:class:`JsonCollections` is what the REST routes run on the search threads and what
``moorings collection`` runs without a server; :class:`moorings.search.client.RemoteCollections`
has the same methods over HTTP. Each method opens the collection before it reads the body, so a
missing collection is 404 whatever the body holds.
"""

from __future__ import annotations

from typing import Any

import orjson

from moorings.search import json_codec as codec
from moorings.search.service import Collections
from moorings.search.validate import batch_from_arrays


class JsonCollections:
    def __init__(self, collections: Collections) -> None:
        self.collections = collections

    def list_all(self) -> list[dict[str, Any]]:
        return [codec.info_json(info) for info in self.collections.list_all()]

    def create(self, body: Any) -> dict[str, Any]:
        return codec.info_json(self.collections.create(codec.spec_from_json(body)))

    def describe(self, name: str) -> dict[str, Any]:
        return codec.info_json(self.collections.describe(name))

    def drop(self, name: str) -> dict[str, Any]:
        self.collections.drop(name)
        return codec.dropped_json(name)

    def upsert(self, name: str, body: Any) -> dict[str, Any]:
        batch = codec.batch_from_json(body, self.collections.spec(name))
        return codec.upserted_json(self.collections.upsert(name, batch))

    def upsert_arrays(
        self,
        name: str,
        ids: list[Any],
        vectors: Any,
        names: list[str | None] | None = None,
        metadata: list[dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """Items held as arrays (CLI ingest): checked as the Python API checks them."""
        spec = self.collections.spec(name)
        batch = batch_from_arrays(ids, vectors, spec.dim, spec.metric, names, metadata)
        return codec.upserted_json(self.collections.upsert(name, batch))

    def delete(self, name: str, body: Any) -> dict[str, Any]:
        self.collections.spec(name)
        return codec.deleted_json(self.collections.delete(name, codec.ids_from_json(body)))

    def get_item(self, name: str, item_id: str) -> dict[str, Any]:
        return codec.item_json(self.collections.get_item(name, item_id))

    def checksum(self, name: str) -> str:
        return self.collections.checksum(name)

    def search_bytes(self, name: str, body: Any) -> bytes:
        """The search answer's JSON bytes."""
        request = codec.search_from_json(body, self.collections.spec(name))
        return codec.search_answer(request, self.collections.search(name, request))

    def search_array_bytes(self, name: str, array: Any, options: Any, what: str) -> bytes:
        """:meth:`search_bytes` for queries sent as an array (a binary body)."""
        request = codec.search_from_array(array, options, self.collections.spec(name), what)
        return codec.search_answer(request, self.collections.search(name, request))

    def search(self, name: str, body: Any) -> dict[str, Any]:
        answer: dict[str, Any] = orjson.loads(self.search_bytes(name, body))
        return answer

    def close(self) -> None:
        self.collections.close()
