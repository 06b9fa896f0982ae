"""TensorFlow Serving's REST JSON: the row (``instances``) and columnar (``inputs``) formats.

Row format: ``{"instances": [row, ...]}`` where a row is the value of the only
input, or an object naming every input; the answer is ``{"predictions": ...}``,
one entry per row (an object per row when the signature has several outputs).
Columnar format: ``{"inputs": value-or-object}``; the answer is
``{"outputs": value-or-object}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from moorings.codecs.json_values import from_array, is_b64, to_array
from moorings.errors import InvalidArgument
from moorings.types import Signature


@dataclass(slots=True)
class PredictBody:
    """The parsed parts of a :predict body that do not depend on the signature."""

    signature_name: str | None
    #: the rows: a JSON list, or a float64 array when the body's numbers were read straight into one
    instances: list[Any] | np.ndarray | None
    inputs: Any


def parse_predict_body(body: Any) -> PredictBody:
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object with 'instances' or 'inputs'")
    signature_name = body.get("signature_name")
    if signature_name is not None and not isinstance(signature_name, str):
        raise InvalidArgument("'signature_name' must be a string")
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances == has_inputs:
        raise InvalidArgument(
            "the request must have exactly one of 'instances' (row format) or 'inputs' (columnar format)"
        )
    instances: list[Any] | np.ndarray | None = None
    if has_instances:
        value = body["instances"]
        if not isinstance(value, list | np.ndarray):
            raise InvalidArgument("'instances' must be a list with one entry per example")
        if len(value) == 0:
            raise InvalidArgument("'instances' is empty")
        instances = value
    return PredictBody(signature_name, instances, body.get("inputs"))


def decode_inputs(request: PredictBody, signature: Signature) -> dict[str, np.ndarray]:
    if request.instances is not None:
        return _decode_rows(request.instances, signature)
    return _decode_columns(request.inputs, signature)


def _single_input(signature: Signature, fmt: str) -> str:
    if len(signature.inputs) != 1:
        names = ", ".join(sorted(signature.inputs))
        raise InvalidArgument(
            f"the signature has {len(signature.inputs)} inputs ({names}); name each input in {fmt}"
        )
    return next(iter(signature.inputs))


def _decode_rows(instances: list[Any] | np.ndarray, signature: Signature) -> dict[str, np.ndarray]:
    named = isinstance(instances, list) and isinstance(instances[0], dict) and not is_b64(instances[0])
    if not named:
        name = _single_input(signature, "each instance (an object per row)")
        spec = signature.inputs[name]
        return {name: to_array(instances, spec.dtype, f"input {name!r}")}
    columns: dict[str, list[Any]] = {}
    for i, row in enumerate(instances):
        if not isinstance(row, dict) or is_b64(row):
            raise InvalidArgument(f"instance {i} is not an object like the first instance")
        if i == 0:
            columns = {key: [] for key in row}
        elif row.keys() != columns.keys():
            raise InvalidArgument(f"instance {i} names other inputs than instance 0")
        for key, value in row.items():
            columns[key].append(value)
    return {key: _column(key, values, signature) for key, values in columns.items()}


def _decode_columns(inputs: Any, signature: Signature) -> dict[str, np.ndarray]:
    if isinstance(inputs, dict) and not is_b64(inputs):
        return {key: _column(key, value, signature) for key, value in inputs.items()}
    name = _single_input(signature, "'inputs' (an object of input name to value)")
    return {name: to_array(inputs, signature.inputs[name].dtype, f"input {name!r}")}


def _column(key: str, value: Any, signature: Signature) -> np.ndarray:
    spec = signature.inputs.get(key)
    if spec is None:
        raise InvalidArgument(
            f"unknown input {key!r}; the signature {signature.name!r} takes: "
            + ", ".join(sorted(signature.inputs))
        )
    return to_array(value, spec.dtype, f"input {key!r}")


def encode_rows(outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    if len(outputs) == 1:
        name, array = next(iter(outputs.items()))
        return {"predictions": from_array(array, name)}
    sizes = {name: (a.shape[0] if a.ndim else None) for name, a in outputs.items()}
    batch = set(sizes.values())
    if len(batch) != 1 or None in batch:
        detail = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise InvalidArgument(
            f"the outputs have different batch sizes ({detail}); use the columnar format ('inputs')"
        )
    (n,) = batch
    assert n is not None
    values = {name: from_array(array, name) for name, array in outputs.items()}
    return {"predictions": [{name: v[i] for name, v in values.items()} for i in range(n)]}


def encode_columns(outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    if len(outputs) == 1:
        name, array = next(iter(outputs.items()))
        return {"outputs": from_array(array, name)}
    return {"outputs": {name: from_array(array, name) for name, array in outputs.items()}}


class ExamplesBody(NamedTuple):
    """The parsed parts of a :classify / :regress body."""

    signature_name: str | None
    #: each example's features, merged with the body's ``context``
    examples: list[dict[str, Any]]


def parse_examples(body: Any) -> ExamplesBody:
    """The signature name and the examples (each merged with ``context``) of :classify/:regress."""
    if not isinstance(body, dict):
        raise InvalidArgument("the request body must be a JSON object with 'examples'")
    signature_name = body.get("signature_name")
    if signature_name is not None and not isinstance(signature_name, str):
        raise InvalidArgument("'signature_name' must be a string")
    examples = body.get("examples")
    if not isinstance(examples, list) or not examples:
        raise InvalidArgument("'examples' must be a non-empty list of objects")
    context = body.get("context", {})
    if not isinstance(context, dict):
        raise InvalidArgument("'context' must be an object of features shared by every example")
    merged = []
    for i, example in enumerate(examples):
        if not isinstance(example, dict):
            raise InvalidArgument(f"example {i} must be an object of feature name to value")
        merged.append({**context, **example})
    return ExamplesBody(signature_name, merged)
