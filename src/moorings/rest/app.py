"""The ASGI application: routing by path segments, JSON errors, bounded bodies.

It is a plain ASGI callable rather than a framework app so the predict path
pays only for what it uses.
"""

from __future__ import annotations

import logging

from moorings import __version__
from moorings.dataplane import DataPlane
from moorings.errors import MooringsError, NotFound
from moorings.rest import collections as search_routes
from moorings.rest import tfserving, v2
from moorings.rest.http import (
    JSON_HEADERS,
    Receive,
    Scope,
    Send,
    allow_method,
    dump_json,
    parse_json,
    path_segments,
    read_body,
    send_bytes,
)
from moorings.search.service import Collections

log = logging.getLogger(__name__)


class RestApp:
    def __init__(
        self, dataplane: DataPlane, max_body_bytes: int, collections: Collections | None = None
    ) -> None:
        self.dataplane = dataplane
        self.max_body_bytes = max_body_bytes
        self.collections = collections

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            return
        headers = JSON_HEADERS
        try:
            if v2.wants(scope["path"]):
                status, body, headers = await v2.handle(self.dataplane, scope, receive, self.max_body_bytes)
            else:
                status, body = await self._dispatch(scope, receive)
        except MooringsError as exc:
            status, body, headers = exc.http_status, dump_json({"error": exc.message}), JSON_HEADERS
        except Exception:
            log.exception("unhandled error serving %s %s", scope.get("method"), scope.get("path"))
            body = dump_json({"error": "internal server error; see the server log"})
            status, headers = 500, JSON_HEADERS
        await send_bytes(send, status, body, headers)

    async def _dispatch(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        method = scope["method"]
        segments = path_segments(scope)
        if len(segments) >= 3 and segments[1] == "v1" and segments[2] == "collections":

            async def body() -> object:
                return parse_json(await read_body(scope, receive, self.max_body_bytes))

            status, answer = await search_routes.handle(self.collections, method, segments[3:], body)
            return status, dump_json(answer)
        if len(segments) >= 4 and segments[1] == "v1" and segments[2] == "models":
            route = tfserving.parse_route(segments[3:])
            if route.verb is None:
                allow_method(method, "GET")
                return 200, dump_json(tfserving.get(self.dataplane, route))
            allow_method(method, "POST")
            body = parse_json(await read_body(scope, receive, self.max_body_bytes))
            return 200, dump_json(await tfserving.post(self.dataplane, route, body))
        if segments[1:] == ["v2", "health", "live"]:
            allow_method(method, "GET")
            return 200, dump_json({"live": True})
        if segments[1:] == ["v2", "health", "ready"]:
            allow_method(method, "GET")
            ready = self.dataplane.is_ready()
            return (200 if ready else 503), dump_json({"ready": ready})
        if segments[1:] in ([""], []):
            allow_method(method, "GET")
            return 200, dump_json(
                {"name": "moorings", "version": __version__, "models": self.dataplane.manager.model_names()}
            )
        raise NotFound(f"no such route: {scope['path'][:200]}")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
