"""The REST API: routing by path segments, JSON errors, one answer per request.

``RestApp.handle`` takes a whole :class:`Request` and returns (status, body,
headers); it never raises. Moorings' own HTTP/1.1 server (``moorings.http1``)
calls it directly. ``RestApp`` is also a plain ASGI callable, so the same API
runs under uvicorn (``--http-server uvicorn``) or mounted in another ASGI app.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from moorings import __version__
from moorings.auth.rest import RestGuard
from moorings.codecs.tfserving_status import models_json
from moorings.dataplane import DataPlane
from moorings.errors import (
    InvalidArgument,
    MooringsError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from moorings.http1.messages import Answer, Request, Streamed
from moorings.observe import logs, metrics, tracing
from moorings.observe.exposition import exposition
from moorings.preprocess.limits import InputLimits
from moorings.rest import collections as search_routes
from moorings.rest import tfserving, uploads, v2
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
    send_streamed,
)
from moorings.rest.multipart import form_boundary
from moorings.rest.v2_heads import HeadCache
from moorings.search.service import Collections
from moorings.types import ModelRef, ModelStatus

log = logging.getLogger(__name__)


#: /metrics, and TF Serving's Prometheus path for clients and scrape configs written for it
METRICS_PATHS = (["metrics"], ["monitoring", "prometheus", "metrics"])


class RestApp:
    def __init__(
        self,
        dataplane: DataPlane,
        max_body_bytes: int,
        collections: Collections | None = None,
        cors_origins: tuple[str, ...] = (),
        request_timeout: float = 0.0,
        max_part_bytes: int = InputLimits().max_image_bytes,
        guard: RestGuard | None = None,
        read_only: str | None = None,
    ) -> None:
        self.dataplane = dataplane
        #: the token check (``--auth-token-file``); None: no authentication
        self.guard = guard
        #: with ``--read-only-data-plane``, where writes go instead (the admin port), said in the 403
        self.read_only = read_only
        self.max_body_bytes = max_body_bytes
        self.collections = collections
        self.v2_heads = HeadCache()
        self.cors = CorsPolicy(cors_origins) if cors_origins else None
        #: seconds; a REST request's deadline when it names none (0: none), see rest/deadline.py
        self.request_timeout = request_timeout
        #: the largest part of a multipart/form-data upload (``--max-image-mb``)
        self.max_part_bytes = max_part_bytes
        #: answer one request; errors become their HTTP status with ``{"error": ...}`` (with CORS
        #: allowed, the answer also carries its headers; without, no extra step per request).
        #: Every answer carries the request's id (``X-Request-Id``); model requests are counted in
        #: the metrics and, with ``--log-format json``, written to the access log.
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
        given = traceparent = coding = None
        for key, value in request.headers:  # one pass for the headers every request looks at
            if key == logs.REQUEST_ID_HEADER:
                given = value
            elif key == logs.TRACEPARENT_HEADER:
                traceparent = value
            elif key == b"content-encoding" and coding is None:
                coding = value
        rid = logs.request_id(given, traceparent)
        observation = metrics.begin("", "", rid)
        observation.traceparent = traceparent
        try:
            segments, observation.protocol, observation.kind = _route_of(request.raw_path)
            if self.guard is not None:  # before the body is even decompressed
                self.guard.check(request, segments)
            if coding is not None:
                request.body = decoded_body(request.body, coding, self.max_body_bytes)
            if segments[1:] in METRICS_PATHS and metrics.switch.enabled:
                allow_method(request.method, "GET")
                text, content_type = exposition()
                answer: Answer = (200, text, [(b"content-type", content_type)])
            elif len(segments) > 1 and segments[1] == "v2" and v2.wants(segments):
                answer = await v2.handle(
                    self.dataplane, self.v2_heads, request, segments, self.request_timeout
                )
            else:
                status, body = await self._dispatch(request, segments)
                answer = (status, body, JSON_HEADERS)
        except MooringsError as exc:
            answer = (exc.http_status, dump_json({"error": exc.message}), _error_headers(exc))
        except Exception:
            log.exception("unhandled error serving %s %s", request.method, request.shown_path)
            answer = (500, dump_json({"error": "internal server error; see the server log"}), JSON_HEADERS)
        return _observed(observation, answer)

    async def _dispatch(self, request: Request, segments: list[str]) -> tuple[int, bytes]:
        method = request.method
        if len(segments) >= 3 and segments[1] == "v1" and segments[2] == "collections":
            if self.read_only is not None and search_routes.is_write(method, segments[3:]):
                raise PermissionDenied(f"collection writes are not served on this port: {self.read_only}")
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
            body = request.body
            # a form body starts with its boundary ("--..."), a JSON body never does: JSON
            # requests do not look at their headers here
            if body[:2] == b"--" and (boundary := form_boundary(request.header(b"content-type"))):
                upload = uploads.parse_upload(body, boundary, self.max_part_bytes)
                return 200, dump_json(
                    await uploads.post(self.dataplane, route.ref, route.verb, upload, until)
                )
            try:
                return 200, dump_json(await tfserving.post(self.dataplane, route, body, until))
            except InvalidArgument as exc:
                raise uploads.with_type_hint(exc, request.header(b"content-type")) from None
        if segments[1:] == ["v2", "health", "live"]:
            allow_method(method, "GET")
            return 200, dump_json({"live": True})
        if segments[1:] == ["v2", "health", "ready"]:
            allow_method(method, "GET")
            ready = self.dataplane.is_ready()
            return (200 if ready else 503), dump_json({"ready": ready})
        if segments[1:3] == ["v2", "repository"]:
            raise PermissionDenied(
                "the model repository API is served on the admin port only (--admin-port), with its token"
            )
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
            except (NotFound, Unavailable):  # removed meanwhile, or unloaded through the admin API
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
        if isinstance(answer, Streamed):
            await send_streamed(send, receive, status, answer, answer_headers)
        else:
            await send_bytes(send, status, answer, answer_headers)


def _error_headers(exc: MooringsError) -> list[tuple[bytes, bytes]]:
    if isinstance(exc, Unauthenticated):
        return [*JSON_HEADERS, (b"www-authenticate", exc.challenge)]
    return JSON_HEADERS


def _observed(observation: metrics.Observation, answer: Answer) -> Answer:
    """Count the answered request, write its access-log line, and add its id to the answer."""
    status, body, headers = answer
    code = str(status)
    took = metrics.finish(observation, code)
    if tracing.switch.enabled:
        tracing.export(observation, code)
    rid = observation.request_id
    if logs.access.enabled and observation.protocol:
        servable = observation.servable
        logs.log_access(
            servable.name if servable else "",
            str(servable.version) if servable else "",
            observation.protocol, observation.kind, code, took, rid,
        )  # fmt: skip
    return status, body, [*headers, (logs.REQUEST_ID_HEADER, rid.encode())]


def _route_of(raw_path: bytes) -> tuple[list[str], str, str]:
    """The path's segments (a list of its own), and the protocol and route kind it is counted under."""
    segments, protocol, kind = _cached_route(raw_path)
    return list(segments), protocol, kind


@lru_cache(maxsize=4096)
def _cached_route(raw_path: bytes) -> tuple[tuple[str, ...], str, str]:
    """Cached as ``path_segments`` is: both depend on the path alone (bad paths raise, uncached)."""
    segments = path_segments(raw_path)
    return tuple(segments), *_protocol_and_kind(segments)


def _protocol_and_kind(segments: list[str]) -> tuple[str, str]:
    """The protocol and route kind a request is counted under; ("", "") for routes not counted
    (``/metrics``, collections, the root)."""
    if len(segments) < 3:
        return "", ""
    if segments[1] == "v1" and segments[2] == "models":
        last = segments[-1]
        if ":" in last:
            verb = last.rsplit(":", 1)[1]
            return "tfserving_rest", verb if verb in tfserving.VERBS else "other"
        return "tfserving_rest", "metadata" if last == "metadata" else "status"
    if segments[1] == "v2":
        last = segments[-1]
        if last in ("infer", "generate_stream"):
            return "v2_rest", "predict"
        if last in ("ready", "live") or segments[2] == "health":
            return "v2_rest", "status"
        return "v2_rest", "metadata"
    return "", ""


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
