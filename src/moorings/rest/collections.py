"""REST routes of embedding search (``/v1/collections...``).

    GET    /v1/collections                      list
    POST   /v1/collections                      create   {"name", "dim", "metric"?, "index"?, "reduce_to"?}
    GET    /v1/collections/{name}               describe
    DELETE /v1/collections/{name}               drop
    POST   /v1/collections/{name}:upsert        {"items": [{"id", "vector", "name"?, "metadata"?}]}
    POST   /v1/collections/{name}:delete        {"ids": [...]}
    POST   /v1/collections/{name}:search        {"vector"|"id"|"name"|"queries", "k"?, "filter"?, "blend"?}
                                                or Content-Type: application/x-npy (see binary_search)
    GET    /v1/collections/{name}/items/{id}    fetch one item

Stores block, so every call runs on the search threads (``moorings.search.executor``).
"""

from __future__ import annotations

from typing import Any

import orjson

from moorings.errors import InvalidArgument, NotFound
from moorings.http1.messages import Request
from moorings.rest.http import allow_method, header_count, parse_json
from moorings.search.executor import run
from moorings.search.json_api import JsonCollections
from moorings.search.npy import read_npy
from moorings.search.service import Collections

VERBS = ("upsert", "delete", "search")
NPY_TYPE = b"application/x-npy"
#: the byte length of the JSON options that precede the .npy array in a binary search body
OPTIONS_LENGTH = b"search-options-length"


async def handle(collections: Collections | None, request: Request, segments: list[str]) -> tuple[int, Any]:
    """``segments``: the path's segments after ``/v1/collections``. The answer is a JSON value, or
    for a search the answer's bytes already written (an ``orjson.Fragment``)."""
    method = request.method
    if collections is None:
        raise NotFound("embedding search is not enabled on this server")
    api = JsonCollections(collections)
    if not segments or segments == [""]:
        if method == "GET":
            return 200, {"collections": await run(api.list_all)}
        allow_method(method, "POST")
        payload = parse_json(request.body)
        return 201, await run(api.create, payload)
    head = segments[0]
    if len(segments) == 3 and segments[1] == "items":
        allow_method(method, "GET")
        return 200, await run(api.get_item, head, segments[2])
    if len(segments) != 1:
        raise NotFound("no such route under /v1/collections")
    name, sep, verb = head.rpartition(":")
    if not sep:
        if method == "DELETE":
            return 200, await run(api.drop, head)
        allow_method(method, "GET")
        return 200, await run(api.describe, head)
    if verb not in VERBS:
        raise InvalidArgument(f"unknown collection verb {verb[:40]!r}; use :upsert, :delete or :search")
    allow_method(method, "POST")
    if verb == "search":
        if _media_type(request) == NPY_TYPE:
            options, array = binary_search(request)
            answer = await run(api.search_array_bytes, name, array, options, "the .npy queries")
        else:
            answer = await run(api.search_bytes, name, parse_json(request.body))
        return 200, orjson.Fragment(answer)
    payload = parse_json(request.body)
    if verb == "upsert":
        return 200, await run(api.upsert, name, payload)
    return 200, await run(api.delete, name, payload)


def is_write(method: str, segments: list[str]) -> bool:
    """Whether a request under ``/v1/collections`` (``segments`` after it) changes stored data:
    create, drop, upsert, delete."""
    if not segments or segments == [""]:
        return method != "GET"
    if len(segments) != 1:
        return False
    _, sep, verb = segments[0].rpartition(":")
    if not sep:
        return method == "DELETE"
    return verb in ("upsert", "delete")


def _media_type(request: Request) -> bytes:
    value = request.header(b"content-type") or b""
    return value.split(b";", 1)[0].strip().lower()


def binary_search(request: Request) -> tuple[Any, Any]:
    """A binary search body: ``[JSON options][.npy array]``.

    The array holds the query vectors, (dim,) for one query or (n, dim) for a batch. The optional
    JSON object before it holds k, filter, blend and include_metadata; its length in bytes is the
    ``Search-Options-Length`` header (absent or 0: no options).
    """
    raw = request.header(OPTIONS_LENGTH)
    length = 0
    if raw is not None:
        expected = f"a byte count from 0 to the body's length ({len(request.body)})"
        length = header_count(raw, "Search-Options-Length", expected)
        if length > len(request.body):
            raise InvalidArgument(f"Search-Options-Length must be {expected}, got {length}")
    options = None
    if length:
        try:
            options = orjson.loads(request.body[:length])
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(
                f"the search options (the body's first {length} bytes) are not valid JSON: {exc}"
            ) from None
    return options, read_npy(request.body[length:] if length else request.body, "the .npy queries")
