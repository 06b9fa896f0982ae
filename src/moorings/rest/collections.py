"""REST routes of embedding search (``/v1/collections...``).

    GET    /v1/collections                      list
    POST   /v1/collections                      create   {"name", "dim", "metric"?, "index"?, "reduce_to"?}
    GET    /v1/collections/{name}               describe
    DELETE /v1/collections/{name}               drop
    POST   /v1/collections/{name}:upsert        {"items": [{"id", "vector", "name"?, "metadata"?}]}
    POST   /v1/collections/{name}:delete        {"ids": [...]}
    POST   /v1/collections/{name}:search        {"vector"|"id"|"name"|"queries", "k"?, "filter"?, "blend"?}
    GET    /v1/collections/{name}/items/{id}    fetch one item

Stores block, so every call runs on the search threads (``moorings.search.executor``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moorings.errors import InvalidArgument, NotFound
from moorings.rest.http import allow_method, parse_json
from moorings.rest.request import Request
from moorings.search.executor import run
from moorings.search.service import Collections

VERBS = ("upsert", "delete", "search")


async def handle(collections: Collections | None, request: Request, segments: list[str]) -> tuple[int, Any]:
    """``segments``: the path's segments after ``/v1/collections``."""
    method = request.method
    if collections is None:
        raise NotFound("embedding search is not enabled on this server")
    if not segments or segments == [""]:
        if method == "GET":
            return 200, {"collections": await run(collections.list_all)}
        allow_method(method, "POST")
        payload = parse_json(request.body)
        return 201, await run(collections.create, payload)
    head = segments[0]
    if len(segments) == 3 and segments[1] == "items":
        allow_method(method, "GET")
        return 200, await run(collections.get_item, head, segments[2])
    if len(segments) != 1:
        raise NotFound("no such route under /v1/collections")
    name, sep, verb = head.rpartition(":")
    if not sep:
        if method == "DELETE":
            return 200, await run(collections.drop, head)
        allow_method(method, "GET")
        return 200, await run(collections.describe, head)
    if verb not in VERBS:
        raise InvalidArgument(f"unknown collection verb {verb[:40]!r}; use :upsert, :delete or :search")
    allow_method(method, "POST")
    payload = parse_json(request.body)
    call: Callable[[str, Any], dict[str, Any]] = getattr(collections, verb)
    return 200, await run(call, name, payload)
