"""A small HTTP client of the /v1/collections routes, with the methods of
:class:`moorings.search.json_api.JsonCollections` (used by ``moorings collection`` through a server)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import orjson

from moorings.errors import (
    DeadlineExceeded,
    InvalidArgument,
    MethodNotAllowed,
    MooringsError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from moorings.search.errors import AlreadyExists

#: the error class the server raised, from the HTTP status it answered with
_BY_STATUS: dict[int, type[MooringsError]] = {
    cls.http_status: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        MethodNotAllowed,
        PayloadTooLarge,
        ResourceExhausted,
        Unimplemented,
        Unavailable,
        DeadlineExceeded,
        Unauthenticated,
        PermissionDenied,
    )
}


class RemoteCollections:
    def __init__(self, url: str, timeout: float = 300, token: str | None = None) -> None:
        self.base = url.rstrip("/") + "/v1/collections"
        self.timeout = timeout
        #: sent as ``Authorization: Bearer`` (a server with --auth-token-file, or its admin port)
        self.token = token

    def _call(self, method: str, path: str = "", body: Any = None) -> Any:
        data = None if body is None else orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        if self.token is not None:
            request.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return orjson.loads(answer.read())
        except urllib.error.HTTPError as exc:
            try:
                message = orjson.loads(exc.read())["error"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                message = f"HTTP {exc.code}"
            raise _BY_STATUS.get(exc.code, MooringsError)(message) from None
        except urllib.error.URLError as exc:
            raise Unavailable(f"cannot reach the server at {self.base}: {exc.reason}") from None

    @staticmethod
    def _name(name: str) -> str:
        return "/" + urllib.parse.quote(name, safe="")

    def list_all(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET")["collections"]
        return result

    def create(self, body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "", body)
        return result

    def describe(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", self._name(name))
        return result

    def drop(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("DELETE", self._name(name))
        return result

    def upsert(self, name: str, body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", self._name(name) + ":upsert", body)
        return result

    def upsert_arrays(
        self,
        name: str,
        ids: list[Any],
        vectors: Any,
        names: list[str | None] | None = None,
        metadata: list[dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """Items held as arrays, sent as one JSON upsert (the server checks them)."""
        items = []
        for n, item_id in enumerate(ids):
            item: dict[str, Any] = {"id": item_id, "vector": vectors[n]}
            if names is not None and names[n] is not None:
                item["name"] = names[n]
            if metadata is not None and metadata[n] is not None:
                item["metadata"] = metadata[n]
            items.append(item)
        return self.upsert(name, {"items": items})

    def delete(self, name: str, body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", self._name(name) + ":delete", body)
        return result

    def search(self, name: str, body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", self._name(name) + ":search", body)
        return result

    def get_item(self, name: str, item_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "GET", self._name(name) + "/items/" + urllib.parse.quote(item_id, safe="")
        )
        return result

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own connection."""
