"""KServe V2 (Open Inference Protocol) REST routes, on the same port as TensorFlow Serving's::

    GET  /v2                                          server metadata
    GET  /v2/models/{name}[/versions/{v}]             model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready       200 when the version serves, else 4xx/503
    POST /v2/models/{name}[/versions/{v}]/infer       JSON tensors, or JSON + binary tensor data

``/v2/health/live`` and ``/v2/health/ready`` are answered by the app itself.
Errors are ``{"error": "..."}`` with 400, 404 or 503.
"""

from __future__ import annotations

import logging

from moorings.codecs import v2_binary, v2_json, v2_model
from moorings.dataplane import DataPlane
from moorings.errors import MooringsError, NotFound
from moorings.rest.http import (
    JSON_HEADERS,
    Receive,
    Scope,
    Send,
    allow_method,
    dump_json,
    header,
    parse_json,
    path_segments,
    read_body,
    send_bytes,
)
from moorings.types import ModelRef

log = logging.getLogger(__name__)

OCTET_HEADERS = [(b"content-type", b"application/octet-stream")]


def wants(path: str) -> bool:
    """Whether a path is one of these routes (the health routes are not)."""
    return path in ("/v2", "/v2/") or path.startswith("/v2/models")


async def serve(dataplane: DataPlane, scope: Scope, receive: Receive, send: Send, max_body: int) -> None:
    """Answer one request under ``/v2`` (errors included)."""
    try:
        segments = path_segments(scope)
        parts = [s for s in segments[2:] if s] if segments[-1:] == [""] else segments[2:]
        method = scope["method"]
        if not parts:
            allow_method(method, "GET")
            await send_bytes(send, 200, dump_json(v2_model.server_metadata()))
            return
        if parts[0] != "models" or len(parts) < 2:
            raise NotFound(f"no such route: {scope['path'][:200]}")
        name, rest = parts[1], parts[2:]
        version = ""
        if rest[:1] == ["versions"] and len(rest) >= 2:
            version, rest = rest[1], rest[2:]
        ref = v2_model.model_ref(name, version)
        if not rest:
            allow_method(method, "GET")
            await send_bytes(send, 200, dump_json(v2_model.model_metadata(dataplane, ref)))
        elif rest == ["ready"]:
            allow_method(method, "GET")
            v2_model.is_model_ready(dataplane, ref)
            await send_bytes(send, 200, dump_json({"name": name, "ready": True}))
        elif rest == ["infer"]:
            allow_method(method, "POST")
            await _infer(dataplane, scope, receive, send, ref, max_body)
        else:
            raise NotFound(f"no such route: {scope['path'][:200]}")
    except MooringsError as exc:
        await send_bytes(send, exc.http_status, dump_json({"error": exc.message}))
    except Exception:
        log.exception("unhandled error serving %s %s", scope.get("method"), scope.get("path"))
        await send_bytes(send, 500, dump_json({"error": "internal server error; see the server log"}))


async def _infer(
    dataplane: DataPlane, scope: Scope, receive: Receive, send: Send, ref: ModelRef, max_body: int
) -> None:
    body = await read_body(scope, receive, max_body)
    head, rest = v2_binary.split_body(body, header(scope, v2_binary.HEADER_LENGTH))
    request = v2_json.parse_request(parse_json(head))
    servable_id, outputs = await v2_model.infer(
        dataplane,
        ref,
        lambda _signature: v2_json.decode_inputs(request, rest),
        lambda available: v2_json.select_outputs(request.outputs, available),
    )
    response, blobs = v2_json.encode_response(servable_id.name, servable_id.version, request, outputs)
    payload = dump_json(response)
    if not blobs:
        await send_bytes(send, 200, payload, JSON_HEADERS)
        return
    headers = [*OCTET_HEADERS, (v2_binary.HEADER_LENGTH, str(len(payload)).encode())]
    await send_bytes(send, 200, b"".join([payload, *blobs]), headers)
