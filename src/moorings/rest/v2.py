"""KServe V2 (Open Inference Protocol) REST routes, on the same port as TensorFlow Serving's::

    GET  /v2                                          server metadata
    GET  /v2/models/{name}[/versions/{v}]             model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready       200 when the version serves, else 4xx/503
    POST /v2/models/{name}[/versions/{v}]/infer       JSON tensors, or JSON + binary tensor data
    POST /v2/models/{name}[/versions/{v}]/generate_stream
                                                      the generate extension: a JSON object of input
                                                      values in, server-sent events out, one per result
                                                      (see codecs/generate_json.py and rest/sse.py)

``/v2/health/live`` and ``/v2/health/ready`` are answered by the app itself.
Errors are ``{"error": "..."}`` with 400, 404 or 503.
"""

from __future__ import annotations

from collections.abc import Awaitable
from functools import lru_cache, partial
from typing import NamedTuple

from moorings.codecs import generate_json, v2_binary, v2_json, v2_metadata
from moorings.codecs.v2_json import V2Request
from moorings.dataplane import DataPlane
from moorings.errors import InvalidArgument, NotFound
from moorings.fetch.references import may_hold_references
from moorings.http1.messages import Answer, Request
from moorings.requests import PredictRequest
from moorings.rest.deadline import deadline
from moorings.rest.http import JSON_HEADERS, allow_method, dump_json, parse_json
from moorings.rest.sse import SSE_HEADERS, event_stream
from moorings.rest.v2_heads import HeadCache
from moorings.types import ModelRef, Signature, Tensors

OCTET_HEADERS = [(b"content-type", b"application/octet-stream")]


def wants(segments: list[str]) -> bool:
    """Whether a path (split, starting with ``/v2``) is one of these routes (the health routes are not)."""
    return segments[2:] in ([], [""]) or segments[2] == "models"


class V2Route(NamedTuple):
    #: "server", "model", "ready", "infer", or "" when there is no such route
    what: str
    model: ModelRef | None


@lru_cache(maxsize=4096)
def _route(parts: tuple[str, ...]) -> V2Route:
    """(what, model) for the path segments after ``/v2``; what is "server", "model", "ready",
    "infer", or "" when there is no such route. Cached: a route depends on the path alone (bad
    model names raise, and are not cached)."""
    if parts[-1:] == ("",):
        parts = tuple(p for p in parts if p)
    if not parts:
        return V2Route("server", None)
    if parts[0] != "models" or len(parts) < 2:
        return V2Route("", None)
    name, rest = parts[1], parts[2:]
    version = ""
    if rest[:1] == ("versions",) and len(rest) >= 2:
        version, rest = rest[1], rest[2:]
    what = {(): "model", ("ready",): "ready", ("infer",): "infer", ("generate_stream",): "stream"}.get(
        rest, ""
    )
    return V2Route(what, v2_metadata.model_ref(name, version) if what else None)


def handle(
    dataplane: DataPlane, heads: HeadCache, request: Request, segments: list[str], timeout: float = 0.0
) -> Awaitable[Answer]:
    """Answer one request under ``/v2``: status, body and headers (errors are raised).

    ``timeout``: the server's default request timeout in seconds (0: none), see rest/deadline.py.
    An inference request's answer is ``_infer``'s coroutine itself (one coroutine less per request);
    errors in the route or the method are raised here, before anything is awaited.
    """
    what, ref = _route(tuple(segments[2:]))
    if what == "infer" and ref is not None:
        allow_method(request.method, "POST")
        return _infer(dataplane, heads, request, ref, timeout)
    return _other(dataplane, request, what, ref, timeout)


async def _other(
    dataplane: DataPlane, request: Request, what: str, ref: ModelRef | None, timeout: float
) -> Answer:
    """The routes under ``/v2`` other than inference."""
    if what == "stream" and ref is not None:
        allow_method(request.method, "POST")
        return await _generate_stream(dataplane, request, ref, timeout)
    if not what:
        raise NotFound(f"no such route: {request.shown_path}")
    allow_method(request.method, "GET")
    if ref is None:
        return 200, dump_json(v2_metadata.server_metadata()), JSON_HEADERS
    if what == "ready":
        dataplane.is_model_ready(ref)
        return 200, dump_json({"name": ref.name, "ready": True}), JSON_HEADERS
    return 200, dump_json(v2_metadata.model_metadata(dataplane.metadata(ref))), JSON_HEADERS


async def _infer(
    dataplane: DataPlane, heads: HeadCache, http: Request, ref: ModelRef, timeout: float
) -> Answer:
    header_length = http.header(v2_binary.HEADER_LENGTH)
    if header_length is not None and header_length.strip() == b"0":
        return await _infer_raw(dataplane, http, ref, deadline(http, timeout))
    head, rest = v2_binary.split_body(http.body, header_length)
    request = heads.parse(head)
    outputs = None if request.outputs is None else tuple(o.name for o in request.outputs)
    prepare = None
    # {"url": ...} elements of BYTES tensors' JSON data, fetched before decode: the raw bytes are
    # searched only when some input has such data (numbers never hold one)
    texts = [i.data for i in request.inputs if i.dtype.is_string and type(i.data) is list]
    if texts and may_hold_references(head):
        prepare = dataplane.fetcher.prepare(head, *texts)
    result = await dataplane.predict(
        PredictRequest(
            ref,
            partial(v2_json.decode_for_signature, request, rest),
            outputs=outputs,
            deadline=deadline(http, timeout, request.parameters.get("timeout")),
            prepare=prepare,
        )
    )
    response, blobs = v2_json.encode_response(
        result.servable.name, result.servable.version, request, result.outputs, result.classes
    )
    payload = dump_json(response)
    if not blobs:
        return 200, payload, JSON_HEADERS
    headers = [*OCTET_HEADERS, (v2_binary.HEADER_LENGTH, str(len(payload)).encode())]
    return 200, b"".join([payload, *blobs]), headers


async def _generate_stream(dataplane: DataPlane, http: Request, ref: ModelRef, timeout: float) -> Answer:
    """The generate extension's stream: the model's results as server-sent events."""
    body = generate_json.check_body(parse_json(http.body))
    parameters = body.get("parameters") or {}
    until = deadline(http, timeout, parameters.get("timeout"))
    stream = await dataplane.stream(
        PredictRequest(ref, partial(generate_json.decode_inputs, body), deadline=until)
    )
    request_id = body.get("id")
    return 200, event_stream(stream, partial(generate_json.encode_result, request_id=request_id)), SSE_HEADERS


#: how a raw binary request is answered: every output, as binary data
RAW_ANSWER = V2Request(None, (), None, {"binary_data_output": True})


async def _infer_raw(dataplane: DataPlane, http: Request, ref: ModelRef, until: float | None) -> Answer:
    """The binary tensor extension's raw form: ``Inference-Header-Content-Length: 0`` and the whole
    body is the data of the model's only input (datatype and shape from its signature)."""
    body = memoryview(http.body)

    def decode(signature: Signature) -> Tensors:
        if len(signature.inputs) != 1:
            raise InvalidArgument(
                f"a raw binary request (Inference-Header-Content-Length: 0) carries one input, but model "
                f"{ref.name!r} takes {len(signature.inputs)}: {', '.join(signature.inputs)}; send a JSON "
                "header with parameters.binary_data_size for each input"
            )
        (spec,) = signature.inputs.values()
        return {spec.name: v2_binary.raw_input(body, spec)}

    result = await dataplane.predict(PredictRequest(ref, decode, deadline=until))
    response, blobs = v2_json.encode_response(
        result.servable.name, result.servable.version, RAW_ANSWER, result.outputs
    )
    payload = dump_json(response)
    headers = [*OCTET_HEADERS, (v2_binary.HEADER_LENGTH, str(len(payload)).encode())]
    return 200, b"".join([payload, *blobs]), headers
