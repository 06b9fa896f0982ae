"""The REST API: routing by path segments, JSON errors, one answer per request.

``RestApp.handle`` takes a whole :class:`Request` and returns (status, body,
headers); it never raises. Moorings' own HTTP/1.1 server (``moorings.http1``)
calls it directly. ``RestApp`` is also a plain ASGI callable, so the same API
runs under uvicorn (``--http-server uvicorn``) or mounted in another ASGI app.
"""

from __future__ import annotations

import logging

from moorings import __version__
from moorings.codecs.tfserving_status import models_json
from moorings.dataplane import DataPlane
from moorings.errors import MooringsError, NotFound
from moorings.http1.messages import Answer, Request
from moorings.rest import collections as search_routes
from moorings.rest import tfserving, v2
from moorings.rest.cors import CorsPolicy
from moorings.rest.deadline import deadline
from moorings.rest.encoding import decoded_body
from moorings.rest.http import (
    JSON_HEADERS,
    Receive,
    Scope,
    Send,
    allow_method,
    dump_json,
    path_segments,
    read_asgi_body,
    send_bytes,
)
from moorings.rest.v2_heads import HeadCache
from moorings.search.service import Collections
from moorings.types import ModelRef, ModelStatus

log = logging.getLogger(__name__)


class RestApp:
    def __init__(
        self,
        dataplane: DataPlane,
        max_body_bytes: int,
        collections: Collections | None = None,
        cors_origins: tuple[str, ...] = (),
        request_timeout: float = 0.0,
    ) -> None:
        self.dataplane = dataplane
        self.max_body_bytes = max_body_bytes
        self.collections = collections
        self.v2_heads = HeadCache()
        self.cors = CorsPolicy(cors_origins) if cors_origins else None
        #: seconds; a REST request's deadline when it names none (0: none), see rest/deadline.py
        self.request_timeout = request_timeout
        #: answer one request; errors become their HTTP status with ``{"error": ...}`` (with CORS
        #: allowed, the answer also carries its headers; without, no extra step per request)
        self.handle = self._answer if self.cors is None else self._answer_with_cors

    async def _answer_with_cors(self, request: Request) -> Answer:
        assert self.cors is not None
        preflight = self.cors.preflight(request)
        if preflight is not None:
            return preflight
        status, body, headers = await self._answer(request)
        origin = self.cors.allowed(request)
        if origin is not None:
            headers = [*headers, *self.cors.headers(origin)]
        return status, body, headers

    async def _answer(self, request: Request) -> Answer:
        try:
            coding = request.header(b"content-encoding")
            if coding is not None:
                request.body = decoded_body(request.body, coding, self.max_body_bytes)
            segments = path_segments(request.raw_path)
            if len(segments) > 1 and segments[1] == "v2" and v2.wants(segments):
                return await v2.handle(self.dataplane, self.v2_heads, request, segments, self.request_timeout)
            status, body = await self._dispatch(request, segments)
            return status, body, JSON_HEADERS
        except MooringsError as exc:
            return exc.http_status, dump_json({"error": exc.message}), JSON_HEADERS
        except Exception:
            log.exception("unhandled error serving %s %s", request.method, request.shown_path)
            return 500, dump_json({"error": "internal server error; see the server log"}), JSON_HEADERS

    async def _dispatch(self, request: Request, segments: list[str]) -> tuple[int, bytes]:
        method = request.method
        if len(segments) >= 3 and segments[1] == "v1" and segments[2] == "collections":
            status, answer = await search_routes.handle(self.collections, request, segments[3:])
            return status, dump_json(answer)
        if segments[1:] in (["v1", "models"], ["v1", "models", ""]):
            allow_method(method, "GET")
            return 200, dump_json(models_json(self._statuses()))
        if len(segments) >= 4 and segments[1] == "v1" and segments[2] == "models":
            route = tfserving.parse_route(segments[3:])
            if route.verb is None:
                allow_method(method, "GET")
                status, answer = tfserving.get(self.dataplane, route)
                return status, dump_json(answer)
            allow_method(method, "POST")
            until = deadline(request, self.request_timeout)
            return 200, dump_json(await tfserving.post(self.dataplane, route, request.body, until))
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
                {"name": "moorings", "version": __version__, "models": self.dataplane.model_names()}
            )
        raise NotFound(f"no such route: {request.shown_path}")

    def _statuses(self) -> list[ModelStatus]:
        """Every tracked model's status (one removed meanwhile is left out)."""
        statuses = []
        for name in self.dataplane.model_names():
            try:
                statuses.append(self.dataplane.status(ModelRef(name)))
            except NotFound:
                continue
        return statuses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: read the whole (bounded) body, then answer as :meth:`handle` does."""
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            return
        try:
            body = await read_asgi_body(scope, receive, self.max_body_bytes)
        except MooringsError as exc:
            await send_bytes(send, exc.http_status, dump_json({"error": exc.message}))
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        headers = [(bytes(k), bytes(v)) for k, v in scope["headers"]]
        request = Request(scope["method"], raw_path.split(b"?", 1)[0], headers, body)
        status, answer, answer_headers = await self.handle(request)
        await send_bytes(send, status, answer, answer_headers)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
