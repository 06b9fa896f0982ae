"""KServe V2 (Open Inference Protocol) REST routes, on the same port as TensorFlow Serving's::

    GET  /v2                                          server metadata
    GET  /v2/models/{name}[/versions/{v}]             model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready       200 when the version serves, else 4xx/503
    POST /v2/models/{name}[/versions/{v}]/infer       JSON tensors, or JSON + binary tensor data

``/v2/health/live`` and ``/v2/health/ready`` are answered by the app itself.
Errors are ``{"error": "..."}`` with 400, 404 or 503.
"""

from __future__ import annotations

from functools import lru_cache

from moorings.codecs import v2_binary, v2_json, v2_model
from moorings.dataplane import DataPlane
from moorings.errors import NotFound
from moorings.http1.messages import Answer, Request
from moorings.rest.http import JSON_HEADERS, allow_method, dump_json
from moorings.rest.v2_heads import HeadCache
from moorings.types import ModelRef

OCTET_HEADERS = [(b"content-type", b"application/octet-stream")]


def wants(segments: list[str]) -> bool:
    """Whether a path (split, starting with ``/v2``) is one of these routes (the health routes are not)."""
    return segments[2:] in ([], [""]) or segments[2] == "models"


@lru_cache(maxsize=4096)
def _route(parts: tuple[str, ...]) -> tuple[str, ModelRef | None]:
    """(what, model) for the path segments after ``/v2``; what is "server", "model", "ready",
    "infer", or "" when there is no such route. Cached: a route depends on the path alone (bad
    model names raise, and are not cached)."""
    if parts[-1:] == ("",):
        parts = tuple(p for p in parts if p)
    if not parts:
        return "server", None
    if parts[0] != "models" or len(parts) < 2:
        return "", None
    name, rest = parts[1], parts[2:]
    version = ""
    if rest[:1] == ("versions",) and len(rest) >= 2:
        version, rest = rest[1], rest[2:]
    what = {(): "model", ("ready",): "ready", ("infer",): "infer"}.get(rest, "")
    return what, v2_model.model_ref(name, version) if what else None


async def handle(dataplane: DataPlane, heads: HeadCache, request: Request, segments: list[str]) -> Answer:
    """Answer one request under ``/v2``: status, body and headers (errors are raised)."""
    what, ref = _route(tuple(segments[2:]))
    if what == "infer" and ref is not None:
        allow_method(request.method, "POST")
        return await _infer(dataplane, heads, request, ref)
    if not what:
        raise NotFound(f"no such route: {request.shown_path}")
    allow_method(request.method, "GET")
    if ref is None:
        return 200, dump_json(v2_model.server_metadata()), JSON_HEADERS
    if what == "ready":
        v2_model.is_model_ready(dataplane, ref)
        return 200, dump_json({"name": ref.name, "ready": True}), JSON_HEADERS
    return 200, dump_json(v2_model.model_metadata(dataplane, ref)), JSON_HEADERS


async def _infer(dataplane: DataPlane, heads: HeadCache, http: Request, ref: ModelRef) -> Answer:
    head, rest = v2_binary.split_body(http.body, http.header(v2_binary.HEADER_LENGTH))
    request = heads.parse(head)
    servable_id, outputs = await v2_model.infer(
        dataplane,
        ref,
        lambda: v2_json.decode_inputs(request, rest),
        request.outputs,
    )
    response, blobs = v2_json.encode_response(servable_id.name, servable_id.version, request, outputs)
    payload = dump_json(response)
    if not blobs:
        return 200, payload, JSON_HEADERS
    headers = [*OCTET_HEADERS, (v2_binary.HEADER_LENGTH, str(len(payload)).encode())]
    return 200, b"".join([payload, *blobs]), headers
