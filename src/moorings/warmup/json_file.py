"""Moorings' JSON warm-up file: ``warmup.json`` in a version folder.

The file is a JSON list; each item is an object with exactly one key naming the
kind of request, whose value is the body that request would have on the wire::

    [
      {"predict": {"instances": [[1.0, 2.0, 3.0, 4.0]]}},
      {"predict": {"signature_name": "other", "inputs": {"x": [[1.0]]}}},
      {"infer": {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}},
      {"classify": {"examples": [{"x": [1.0, 2.0]}]}},
      {"regress": {"examples": [{"x": [1.0, 2.0]}]}}
    ]

``predict``, ``classify`` and ``regress`` take TensorFlow Serving REST bodies
(``POST /v1/models/NAME:predict`` etc.), ``infer`` a KServe V2 JSON body
(``POST /v2/models/NAME/infer``, JSON tensors only). The model and version are
the ones loading, whatever the body says.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson

from moorings.codecs import tfserving_json as tfjson
from moorings.codecs import v2_json
from moorings.errors import InvalidArgument, MooringsError
from moorings.requests import ExamplesRequest, PredictRequest
from moorings.types import ModelRef
from moorings.warmup.calls import Call, classify_call, predict_call, regress_call

FILE_NAME = "warmup.json"
KINDS = ("predict", "infer", "classify", "regress")


def calls(data: bytes, ref: ModelRef, limit: int) -> list[Call]:
    """The replays a warm-up file's bytes describe; InvalidArgument names the bad item."""
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"{FILE_NAME} is not valid JSON: {exc}") from None
    if not isinstance(items, list):
        raise InvalidArgument(f'{FILE_NAME} must hold a JSON list of requests, e.g. [{{"predict": {{...}}}}]')
    if len(items) > limit:
        raise InvalidArgument(f"{FILE_NAME} holds {len(items)} requests; at most {limit} are replayed")
    result = []
    for index, item in enumerate(items):
        where = f"{FILE_NAME} item {index}"
        try:
            result.append(_call(item, ref, where))
        except MooringsError as exc:
            raise InvalidArgument(f"{where}: {exc.message}") from None
    return result


def _call(item: Any, ref: ModelRef, where: str) -> Call:
    if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in KINDS:
        raise InvalidArgument(f"must be an object with one key, one of {', '.join(KINDS)}")
    ((kind, body),) = item.items()
    if kind == "predict":
        parsed = tfjson.parse_predict_body(body)
        request = PredictRequest(
            ref,
            partial(tfjson.decode_inputs, parsed),
            signature_name=parsed.signature_name,
            same_batch=parsed.instances is not None,
            lift_trailing_ones=True,
        )
        return predict_call(request, where)
    if kind == "infer":
        v2 = v2_json.parse_request(body)
        if v2.binary_bytes is not None or any(i.binary_size is not None for i in v2.inputs):
            raise InvalidArgument("binary tensor data cannot be given in a JSON warm-up file")
        outputs = None if v2.outputs is None else tuple(o.name for o in v2.outputs)
        decode = partial(v2_json.decode_for_signature, v2, memoryview(b""))
        return predict_call(PredictRequest(ref, decode, outputs=outputs), where)
    signature_name, examples = tfjson.parse_examples(body)
    examples_request = ExamplesRequest(ref, examples, signature_name)
    if kind == "classify":
        return classify_call(examples_request, where)
    return regress_call(examples_request, where)
