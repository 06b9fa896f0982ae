"""KServe V2 (Open Inference Protocol) REST routes, on the same port as TensorFlow Serving's::

    GET  /v2                                          server metadata
    GET  /v2/models/{name}[/versions/{v}]             model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready       200 when the version serves, else 4xx/503
    POST /v2/models/{name}[/versions/{v}]/infer       JSON tensors, or JSON + binary tensor data

``/v2/health/live`` and ``/v2/health/ready`` are answered by the app itself.
Errors are ``{"error": "..."}`` with 400, 404 or 503.
"""

from __future__ import annotations

from moorings.codecs import v2_binary, v2_json, v2_model
from moorings.codecs.json_fast import parse_v2_data_arrays
from moorings.dataplane import DataPlane
from moorings.errors import NotFound
from moorings.rest.http import JSON_HEADERS, allow_method, dump_json, parse_json
from moorings.rest.request import Answer, Request
from moorings.types import ModelRef

OCTET_HEADERS = [(b"content-type", b"application/octet-stream")]


def wants(segments: list[str]) -> bool:
    """Whether a path (split, starting with ``/v2``) is one of these routes (the health routes are not)."""
    return segments[2:] in ([], [""]) or segments[2] == "models"


async def handle(dataplane: DataPlane, request: Request, segments: list[str]) -> Answer:
    """Answer one request under ``/v2``: status, body and headers (errors are raised)."""
    parts = [s for s in segments[2:] if s] if segments[-1:] == [""] else segments[2:]
    method = request.method
    if not parts:
        allow_method(method, "GET")
        return 200, dump_json(v2_model.server_metadata()), JSON_HEADERS
    if parts[0] != "models" or len(parts) < 2:
        raise NotFound(f"no such route: {request.shown_path}")
    name, rest = parts[1], parts[2:]
    version = ""
    if rest[:1] == ["versions"] and len(rest) >= 2:
        version, rest = rest[1], rest[2:]
    ref = v2_model.model_ref(name, version)
    if not rest:
        allow_method(method, "GET")
        return 200, dump_json(v2_model.model_metadata(dataplane, ref)), JSON_HEADERS
    if rest == ["ready"]:
        allow_method(method, "GET")
        v2_model.is_model_ready(dataplane, ref)
        return 200, dump_json({"name": name, "ready": True}), JSON_HEADERS
    if rest == ["infer"]:
        allow_method(method, "POST")
        return await _infer(dataplane, request, ref)
    raise NotFound(f"no such route: {request.shown_path}")


async def _infer(dataplane: DataPlane, http: Request, ref: ModelRef) -> Answer:
    head, rest = v2_binary.split_body(http.body, http.header(v2_binary.HEADER_LENGTH))
    request = v2_json.parse_request(parse_json(head, parse_v2_data_arrays))
    servable_id, outputs = await v2_model.infer(
        dataplane,
        ref,
        lambda _signature: v2_json.decode_inputs(request, rest),
        lambda available: v2_json.select_outputs(request.outputs, available),
    )
    response, blobs = v2_json.encode_response(servable_id.name, servable_id.version, request, outputs)
    payload = dump_json(response)
    if not blobs:
        return 200, payload, JSON_HEADERS
    headers = [*OCTET_HEADERS, (v2_binary.HEADER_LENGTH, str(len(payload)).encode())]
    return 200, b"".join([payload, *blobs]), headers
