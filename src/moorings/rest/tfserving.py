"""TensorFlow Serving's REST API over the dataplane.

Routes (each also under ``/versions/{v}`` and ``/labels/{label}``)::

    GET  /v1/models/{name}                model status
    GET  /v1/models/{name}/metadata       signatures
    POST /v1/models/{name}:predict        row or columnar format; "top_k": k ranks the classes
    POST /v1/models/{name}:classify       examples -> [[label, score], ...]
    POST /v1/models/{name}:regress        examples -> [value, ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np

from moorings.codecs import classification
from moorings.codecs import tfserving_json as tfjson
from moorings.codecs.json_fast import parse_leading_array
from moorings.codecs.tfserving_status import metadata_json, status_json
from moorings.dataplane import DataPlane
from moorings.errors import InvalidArgument, NotFound
from moorings.requests import ExamplesRequest, PredictRequest, PredictResult
from moorings.rest.http import parse_json
from moorings.types import ModelRef, Signature, Tensors, VersionState, parse_ref

VERBS = ("predict", "classify", "regress")


@dataclass(frozen=True)
class Route:
    ref: ModelRef
    verb: str | None  # predict / classify / regress, or None for status
    metadata: bool


def parse_route(parts: list[str]) -> Route:
    """Parse the segments after ``/v1/models/``."""
    return _parse_route(tuple(parts))


@lru_cache(maxsize=4096)
def _parse_route(key: tuple[str, ...]) -> Route:
    """Cached: a route depends on the path alone (bad paths raise, and are not cached)."""
    if not key or not key[0]:
        raise NotFound("no such route; try /v1/models/{name}")
    parts = list(key)
    verb = None
    if ":" in parts[-1]:
        parts[-1], verb = parts[-1].rsplit(":", 1)
        if verb not in VERBS:
            raise NotFound(f"unknown method ':{verb}'; use :predict, :classify or :regress")
    metadata = False
    if verb is None and len(parts) in (2, 4) and parts[-1] == "metadata":
        metadata = True
        parts = parts[:-1]
    if len(parts) == 1:
        return Route(parse_ref(parts[0]), verb, metadata)
    if len(parts) == 3 and parts[1] == "versions":
        return Route(parse_ref(parts[0], version=parts[2]), verb, metadata)
    if len(parts) == 3 and parts[1] == "labels":
        if not parts[2]:
            raise InvalidArgument("empty version label")
        return Route(parse_ref(parts[0], label=parts[2]), verb, metadata)
    raise NotFound("no such route under /v1/models; see the REST API docs")


def _decode_fetched(parsed: Any, signature: Signature) -> Tensors:
    """The inputs of a body whose input URLs were fetched (``"inputs"`` itself may have been one)."""
    return tfjson.decode_inputs(tfjson.parse_predict_body(parsed), signature)


def _top_k(body: Any) -> int | None:
    """The ``top_k`` of a :predict body (a Moorings option; TF Serving defines no such key)."""
    if type(body) is not dict or "top_k" not in body:
        return None
    return classification.check_k(body["top_k"], "'top_k'", flag=True)


def _ranked(result: PredictResult, k: int, key: str) -> dict[str, Any]:
    """Per row the best class and the top ``k``, named by the version's class names."""
    name = classification.ranked_output(result.signature, result.outputs, result.classes)
    names = classification.names_for(result.classes, name)
    return {key: classification.top_k_rows(result.outputs[name], k, names, name)}


def get(dataplane: DataPlane, route: Route) -> tuple[int, Any]:
    """(HTTP status, body) of a metadata or status request.

    A model status answers 503 (with the same body) while the model has no AVAILABLE version
    (loading, warming up or failed), the server is not ready or it is shutting down, so that
    it can serve as a readiness probe as ``/v2/health/ready`` does.
    """
    if route.metadata:
        meta = dataplane.metadata(route.ref)
        return 200, metadata_json(meta.servable, meta.signatures)
    status = dataplane.status(route.ref)
    serving = any(v.state is VersionState.AVAILABLE for v in status.versions) and dataplane.is_ready()
    return (200 if serving else 503), status_json(status)


async def post(
    dataplane: DataPlane, route: Route, raw: bytes | bytearray, deadline: float | None = None
) -> Any:
    if route.verb == "predict":
        parsed = parse_json(raw, parse_leading_array)
        k = _top_k(parsed) if type(parsed) is not dict or "top_k" in parsed else None
        body = tfjson.parse_predict_body(parsed)
        row_format = body.instances is not None
        # {"url": ...} values, fetched before decode; a body that is one array of numbers, read
        # straight into an ndarray (json_fast), holds none: its raw bytes need no scan
        only_numbers = len(parsed) == 1 and type(body.instances) is np.ndarray
        prepare = None if only_numbers else dataplane.fetcher.prepare(raw, parsed)
        request = PredictRequest(
            route.ref,
            partial(tfjson.decode_inputs, body) if prepare is None else partial(_decode_fetched, parsed),
            signature_name=body.signature_name,
            same_batch=row_format,
            lift_trailing_ones=True,
            deadline=deadline,
            prepare=prepare,
        )
        result = await dataplane.predict(request)
        if k is not None:
            return _ranked(result, k, "predictions" if row_format else "outputs")
        outputs = result.outputs
        return tfjson.encode_rows(outputs) if row_format else tfjson.encode_columns(outputs)
    signature_name, examples = tfjson.parse_examples(parse_json(raw))
    examples_request = ExamplesRequest(route.ref, examples, signature_name, deadline)
    if route.verb == "classify":
        classified = (await dataplane.classify(examples_request)).result
        return {
            "results": [
                [[label, score] for label, score in zip(labels, scores, strict=False)]
                for labels, scores in zip(classified.labels, classified.scores, strict=True)
            ]
        }
    return {"results": (await dataplane.regress(examples_request)).values}
