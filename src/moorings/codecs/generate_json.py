"""The JSON of KServe's generate extension (``/generate_stream``), as Triton writes it.

A request is one JSON object: each key an input of the model, its value a JSON
value (a number, a string, a nested list), plus optional ``id`` and
``parameters``::

    {"text": "Once upon a time", "max_tokens": 20}

An input given without the signature's leading batch dimension gets one of
size 1 (so ``"text": "hi"`` fits a ``[-1]`` string input, ``[1, 2]`` a
``[-1, 2]`` one). Each answer is one JSON object: the model's name and version
and each output by name, its value as JSON (without that added dimension, so a
one-element output of a one-row request is a plain value)::

    {"model_name": "writer", "model_version": "1", "text": "Once"}
"""

from __future__ import annotations

from typing import Any

import numpy as np

from moorings.codecs.json_values import from_array, to_array
from moorings.errors import InvalidArgument
from moorings.requests import PredictResult
from moorings.types import Signature, Tensors

#: keys of a request that are not inputs
RESERVED = frozenset({"id", "parameters"})


def check_body(body: Any) -> dict[str, Any]:
    """The parsed body, refused unless it is a JSON object with a string id and object parameters."""
    if type(body) is not dict:
        raise InvalidArgument('the body must be a JSON object of input values, e.g. {"text": "..."}')
    if "id" in body and not isinstance(body["id"], str):
        raise InvalidArgument("'id' must be a string")
    if "parameters" in body and not isinstance(body["parameters"], dict):
        raise InvalidArgument("'parameters' must be a JSON object")
    return body


def decode_inputs(body: dict[str, Any], signature: Signature) -> Tensors:
    """Every input of ``signature`` from the body (InvalidArgument naming a missing or unknown one)."""
    names = signature.inputs
    unknown = [key for key in body if key not in names and key not in RESERVED]
    if unknown:
        raise InvalidArgument(
            f"unknown input(s) {', '.join(map(repr, unknown))}; the model takes: {', '.join(names)}"
        )
    missing = [name for name in names if name not in body]
    if missing:
        raise InvalidArgument(
            f"missing input(s) {', '.join(map(repr, missing))}; the model takes: {', '.join(names)}"
        )
    inputs = {}
    for name, spec in names.items():
        array = to_array(body[name], spec.dtype, f"input {name!r}")
        if spec.shape is not None and array.ndim == len(spec.shape) - 1:
            array = array.reshape((1, *array.shape))
        inputs[name] = array
    return inputs


def encode_result(result: PredictResult, request_id: str | None) -> dict[str, Any]:
    """One answer: the model, then each output (a leading dimension of 1 dropped)."""
    answer: dict[str, Any] = {
        "model_name": result.servable.name,
        "model_version": str(result.servable.version),
    }
    if request_id is not None:
        answer["id"] = request_id
    for name, array in result.outputs.items():
        if array.ndim and array.shape[0] == 1:
            array = array.reshape(array.shape[1:])
        value = from_array(array, name)
        answer[name] = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
    return answer
