"""``multipart/form-data`` on TF Serving's ``:predict`` and ``:classify``: file uploads.

One part per row of a signature input, named by the input: a file part (or a field) for a
string input, such as an image input that model.toml declares (``kind = "image"``), whose
bytes are the value; for a number input, a field whose text is that row's JSON value.
Several parts of one name are several rows, in order; every input needs the same number.
Two field names are options, not inputs: ``signature_name`` and ``top_k`` (the best classes
of the ranked output, as ``top_k`` in a JSON :predict body)::

    curl -F image=@cat.jpg http://127.0.0.1:8501/v1/models/resnet:predict
    curl -F image=@cat.jpg -F image=@dog.png -F top_k=3 http://127.0.0.1:8501/v1/models/resnet:predict

``:predict`` answers ``{"predictions": ...}`` as the row format does; ``:classify`` answers
TF Serving's ``{"results": [[[label, score], ...], ...]}``, every class of the ranked
output in index order (with ``top_k``: the best k, best first), named by the version's
class names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import orjson

from moorings.codecs import classification
from moorings.codecs import tfserving_json as tfjson
from moorings.codecs.json_values import to_array
from moorings.dataplane import DataPlane
from moorings.errors import InvalidArgument
from moorings.requests import PredictRequest, PredictResult
from moorings.rest.multipart import Part, form_boundary, parse_form
from moorings.types import ModelRef, Signature, Tensors

#: field names that are options of the request, not inputs
OPTIONS = ("signature_name", "top_k")
#: the most parts one form may have
MAX_PARTS = 1024


@dataclass(slots=True)
class Upload:
    signature_name: str | None
    top_k: int | None
    #: input name -> its parts, one per row
    rows: dict[str, list[Part]]


def parse_upload(body: bytes | bytearray, boundary: bytes, max_part_bytes: int) -> Upload:
    parts = parse_form(body, boundary, MAX_PARTS, max_part_bytes)
    rows: dict[str, list[Part]] = {}
    options: dict[str, str] = {}
    for part in parts:
        if part.name in OPTIONS and part.filename is None:
            if part.name in options:
                raise InvalidArgument(f"the form has the option {part.name!r} more than once")
            try:
                options[part.name] = part.data.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise InvalidArgument(f"the form field {part.name!r} is not UTF-8 text") from None
        else:
            rows.setdefault(part.name, []).append(part)
    k = None
    if "top_k" in options:
        text = options["top_k"]
        value: Any = (
            True if text.lower() == "true" else int(text) if text.isdigit() and len(text) < 10 else text
        )
        k = classification.check_k(value, "the form field 'top_k'", flag=True)
    return Upload(options.get("signature_name") or None, k, rows)


def decode_upload(upload: Upload, signature: Signature) -> Tensors:
    """The upload's parts as the signature's inputs (on the event loop: no image is decoded here)."""
    unknown = [name for name in upload.rows if name not in signature.inputs]
    takes = ", ".join(sorted(signature.inputs))
    if unknown:
        raise InvalidArgument(
            f"the form has a part named {unknown[0]!r}, which is not an input of signature "
            f"{signature.name!r} (inputs: {takes}; options: {', '.join(OPTIONS)})"
        )
    missing = [name for name in signature.inputs if name not in upload.rows]
    if missing:
        raise InvalidArgument(
            f"the form has no part for input {missing[0]!r}; send one part per input of signature "
            f"{signature.name!r} ({takes})"
        )
    inputs: Tensors = {}
    for name, parts in upload.rows.items():
        spec = signature.inputs[name]
        if spec.dtype.is_string:
            array = np.empty(len(parts), dtype=object)
            for i, part in enumerate(parts):
                array[i] = bytes(part.data)
            inputs[name] = array
            continue
        values = []
        for part in parts:
            if part.filename is not None:
                raise InvalidArgument(
                    f"part {name!r} is a file, but input {name!r} takes {spec.dtype.name} values: send it "
                    "as a form field holding JSON"
                )
            try:
                values.append(orjson.loads(part.data))
            except orjson.JSONDecodeError as exc:
                raise InvalidArgument(f"part {name!r} is not a JSON value: {exc}") from None
        inputs[name] = to_array(values, spec.dtype, f"input {name!r}")
    return inputs


async def post(
    dataplane: DataPlane,
    ref: ModelRef,
    verb: str,
    upload: Upload,
    deadline: float | None,
) -> Any:
    """Answer an upload to ``:predict`` or ``:classify`` (``verb``)."""
    if verb not in ("predict", "classify"):
        raise InvalidArgument(f":{verb} takes a JSON body; file uploads go to :predict or :classify")
    request = PredictRequest(
        ref,
        partial(decode_upload, upload),
        signature_name=upload.signature_name,
        same_batch=True,
        lift_trailing_ones=True,
        deadline=deadline,
    )
    result = await dataplane.predict(request)
    if verb == "classify":
        return {"results": _classified(result, upload.top_k)}
    if upload.top_k is not None:
        name = classification.ranked_output(result.signature, result.outputs, result.classes)
        names = classification.names_for(result.classes, name)
        return {"predictions": classification.top_k_rows(result.outputs[name], upload.top_k, names, name)}
    return tfjson.encode_rows(result.outputs)


def _classified(result: PredictResult, k: int | None) -> list[list[list[Any]]]:
    """TF Serving's classify results: per row every class and its score in index order, or with
    ``k`` the best ``k``, best first; named by the version's class names."""
    name = classification.ranked_output(result.signature, result.outputs, result.classes)
    rows = classification.score_rows(result.outputs[name], name)
    names = classification.names_for(result.classes, name)
    if k is None:
        labels = [classification.name_of(i, names) or str(i) for i in range(rows.shape[1])]
        return [[[label, score] for label, score in zip(labels, row, strict=True)] for row in rows.tolist()]
    indices, scores = classification.top_k(rows, k)
    return [
        [[classification.name_of(i, names) or str(i), score] for i, score in zip(ids, row, strict=True)]
        for ids, row in zip(indices.tolist(), scores.tolist(), strict=True)
    ]


def with_type_hint(exc: InvalidArgument, content_type: bytes | None) -> InvalidArgument:
    """A JSON body error, naming the request's Content-Type when it is not JSON (a raw image
    posted as ``image/png``, say) and what the route takes instead."""
    if not content_type or b"json" in content_type.lower():
        return exc
    if not exc.message.startswith(("malformed JSON", "the request body is empty")):
        return exc
    if form_boundary(content_type) is not None:
        return InvalidArgument(
            "the multipart/form-data body does not start with its boundary (--BOUNDARY, as the "
            "Content-Type names it)"
            if exc.message.startswith("malformed")
            else "the multipart/form-data body is empty"
        )
    shown = content_type[:80].decode("latin-1")
    return InvalidArgument(
        f"{exc.message}; this route takes a JSON body, or multipart/form-data with one part per input "
        f"(the request's Content-Type is {shown!r})"
    )
