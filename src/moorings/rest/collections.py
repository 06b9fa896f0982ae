"""REST routes of embedding search (``/v1/collections...``).

    GET    /v1/collections                      list
    POST   /v1/collections                      create   {"name", "dim", "metric"?, "index"?, "reduce_to"?}
    GET    /v1/collections/{name}               describe
    DELETE /v1/collections/{name}               drop
    POST   /v1/collections/{name}:upsert        {"items": [{"id", "vector", "name"?, "metadata"?}]}
    POST   /v1/collections/{name}:delete        {"ids": [...]}
    POST   /v1/collections/{name}:search        {"vector"|"id"|"name"|"queries", "k"?, "filter"?, "blend"?}
    GET    /v1/collections/{name}/items/{id}    fetch one item

Stores block (FAISS, PostgreSQL), so every call runs in a worker thread, from a small pool of
its own: FAISS starts an OpenMP team per calling thread, and a few long-lived threads keep a few
teams instead of one per thread of asyncio's default executor.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from moorings.errors import InvalidArgument, NotFound
from moorings.rest.http import allow_method
from moorings.search.service import Collections

VERBS = ("upsert", "delete", "search")
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="search")
T = TypeVar("T")


async def _run(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(_POOL, functools.partial(fn, *args))


async def handle(
    collections: Collections | None,
    method: str,
    segments: list[str],
    body: Callable[[], Awaitable[Any]],
) -> tuple[int, Any]:
    """``segments`` follow ``/v1/collections``; ``body()`` reads and parses the JSON body."""
    if collections is None:
        raise NotFound("embedding search is not enabled on this server")
    if not segments or segments == [""]:
        if method == "GET":
            return 200, {"collections": await _run(collections.list_all)}
        allow_method(method, "POST")
        payload = await body()
        return 201, await _run(collections.create, payload)
    head = segments[0]
    if len(segments) == 3 and segments[1] == "items":
        allow_method(method, "GET")
        return 200, await _run(collections.get_item, head, segments[2])
    if len(segments) != 1:
        raise NotFound("no such route under /v1/collections")
    name, sep, verb = head.rpartition(":")
    if not sep:
        if method == "DELETE":
            return 200, await _run(collections.drop, head)
        allow_method(method, "GET")
        return 200, await _run(collections.describe, head)
    if verb not in VERBS:
        raise InvalidArgument(f"unknown collection verb {verb[:40]!r}; use :upsert, :delete or :search")
    allow_method(method, "POST")
    payload = await body()
    call: Callable[[str, Any], dict[str, Any]] = getattr(collections, verb)
    return 200, await _run(call, name, payload)
