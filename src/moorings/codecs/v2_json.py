"""KServe V2 (Open Inference Protocol) JSON: inference requests and responses.

A request::

    {"id": "...", "parameters": {...},
     "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [...], "parameters": {...}}],
     "outputs": [{"name": "probabilities", "parameters": {"binary_data": true}}]}

``data`` may be flat (row-major) or nested like the shape. An input sent as
binary (see :mod:`moorings.codecs.v2_binary`) has ``parameters.binary_data_size``
and no ``data``. The response lists the requested outputs (every output when
``outputs`` is absent) with ``name``, ``datatype``, ``shape`` and flat ``data``
(or ``parameters.binary_data_size`` when it travels as binary).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from moorings import dtypes
from moorings.codecs import classification, v2_binary
from moorings.codecs.json_values import to_array
from moorings.codecs.shapes import check_shape
from moorings.codecs.tensor_proto import check_dtype
from moorings.dtypes import DType
from moorings.errors import InvalidArgument
from moorings.types import ClassNames, Signature, Tensors


@dataclass(frozen=True, slots=True)
class V2Input:
    name: str
    dtype: DType
    shape: tuple[int, ...]
    data: Any = None
    binary_size: int | None = None


@dataclass(frozen=True, slots=True)
class V2Output:
    name: str
    binary: bool | None = None
    #: the classification extension: answer the top k classes of each row as "score:index[:label]"
    classification: int | None = None


@dataclass(frozen=True, slots=True)
class V2Request:
    """A parsed request; immutable, so one parsed header can serve every request that repeats it."""

    id: str | None
    inputs: tuple[V2Input, ...]
    outputs: tuple[V2Output, ...] | None
    parameters: dict[str, Any] = field(default_factory=dict)
    #: the binary part's size when every input is binary (each size checked against its shape)
    binary_bytes: int | None = None

    @property
    def binary_output_default(self) -> bool:
        return self.parameters.get("binary_data_output") is True


def v2_name(dtype: DType) -> str:
    return dtype.v2_name


def parse_datatype(value: Any, where: str) -> DType:
    if type(value) is not str:
        raise InvalidArgument(f"{where}: 'datatype' must be a string such as \"FP32\"")
    try:
        return dtypes.from_v2(value)
    except KeyError:
        known = ", ".join(d.v2_name for d in dtypes.ALL)
        raise InvalidArgument(f"{where}: unsupported datatype {value[:40]!r} (supported: {known})") from None


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if type(value) is not list:
        raise InvalidArgument(f"{where}: 'shape' must be a list of non-negative integers")
    for d in value:  # a loop, not all(): no generator per request
        if type(d) is not int or d < 0:  # bool is not int
            raise InvalidArgument(f"{where}: 'shape' must be a list of non-negative integers")
    return check_shape(value, where)


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise InvalidArgument(f"{where}: 'parameters' must be an object")
    return value


def parse_request(body: Any) -> V2Request:
    if type(body) is not dict:
        raise InvalidArgument("the inference request must be a JSON object with 'inputs'")
    request_id = body.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InvalidArgument("'id' must be a string")
    raw_inputs = body.get("inputs")
    if type(raw_inputs) is not list or not raw_inputs:
        raise InvalidArgument("'inputs' must be a non-empty list of tensors")
    inputs = tuple([_parse_input(i, item) for i, item in enumerate(raw_inputs)])
    if len(inputs) > 1:
        seen: set[str] = set()
        for item in inputs:
            if item.name in seen:
                raise InvalidArgument(f"input {item.name!r} is given twice")
            seen.add(item.name)
    outputs = None
    raw_outputs = body.get("outputs")
    if raw_outputs is not None:
        if type(raw_outputs) is not list:
            raise InvalidArgument("'outputs' must be a list of {\"name\": ...} objects")
        outputs = tuple(_parse_output(i, item) for i, item in enumerate(raw_outputs))
    binary_bytes: int | None = 0
    for item in inputs:  # the sum of the binary sizes; None unless every input has one
        if item.binary_size is None:
            binary_bytes = None
            break
        binary_bytes += item.binary_size  # type: ignore[operator]
    parameters = _parameters(body.get("parameters"), "the request")
    return V2Request(request_id, inputs, outputs, parameters, binary_bytes)


def _parse_input(index: int, item: Any) -> V2Input:
    """One entry of ``inputs``."""
    name = item.get("name") if type(item) is dict else None
    if type(name) is not str:
        raise InvalidArgument(f"inputs[{index}] must be an object with a 'name'")
    where = f"input {name!r}"
    dtype = parse_datatype(item.get("datatype"), where)
    shape = _shape(item.get("shape"), where)
    size = _parameters(item.get("parameters"), where).get("binary_data_size")
    if size is not None:
        if type(size) is not int or size < 0:
            raise InvalidArgument(f"{where}: binary_data_size must be a non-negative integer")
        if "data" in item:
            raise InvalidArgument(f"{where} has both 'data' and parameters.binary_data_size")
        v2_binary.check_size(size, dtype, shape, where)
        return V2Input(name, dtype, shape, None, size)
    if "data" not in item:
        raise InvalidArgument(f"{where} has no 'data' (and no parameters.binary_data_size)")
    return V2Input(name, dtype, shape, item["data"], None)


def _parse_output(index: int, item: Any) -> V2Output:
    name = item.get("name") if type(item) is dict else None
    if type(name) is not str:
        raise InvalidArgument(f"outputs[{index}] must be an object with a 'name'")
    parameters = _parameters(item.get("parameters"), f"output {name!r}")
    k = None
    if "classification" in parameters:
        where = f"output {name!r}: parameters.classification"
        k = classification.check_k(parameters["classification"], where)
    binary = parameters.get("binary_data")
    return V2Output(name, binary if type(binary) is bool else None, k)


def decode_input(item: V2Input, blob: bytes | memoryview | None) -> np.ndarray:
    """The array of one input, from its JSON ``data`` or its binary blob, checked against its shape."""
    if blob is not None:
        return v2_binary.from_raw(blob, item.dtype, item.shape, item.name)
    where = f"input {item.name!r}"
    array = to_array(item.data, item.dtype, where)
    count = math.prod(item.shape)
    if array.size != count:
        raise InvalidArgument(
            f"{where}: 'data' holds {array.size} values but shape {list(item.shape)} needs {count}"
        )
    return array.reshape(item.shape)


def decode_for_signature(request: V2Request, rest: memoryview, signature: Signature) -> Tensors:
    """Every input's array, cast to the signature's dtype where it is the same kind of number."""
    return cast_inputs(signature, decode_inputs(request, rest))


def cast_inputs(signature: Signature, inputs: Tensors) -> Tensors:
    """Each input as its signature's dtype (a cast within the same kind of number is allowed)."""
    specs = signature.inputs
    cast = None
    for name, array in inputs.items():
        spec = specs.get(name)
        if spec is None or array.dtype == spec.dtype.numpy:
            continue
        if cast is None:
            cast = dict(inputs)
        cast[name] = check_dtype(array, spec.dtype, f"input {name!r}", v2_name)
    return inputs if cast is None else cast


def decode_inputs(request: V2Request, rest: memoryview) -> Tensors:
    """Every input's array as the request's datatypes say."""
    if request.binary_bytes is not None and request.binary_bytes == len(rest):
        # every input binary, each size checked against its shape when the header was parsed:
        # numbers are viewed as they are, BYTES elements still need their lengths read
        inputs = {}
        start = 0
        for item in request.inputs:
            end = start + item.binary_size  # type: ignore[operator]
            blob = rest[start:end]
            if item.dtype.is_string:
                inputs[item.name] = v2_binary.from_raw(blob, item.dtype, item.shape, item.name)
            else:
                inputs[item.name] = v2_binary.view(blob, item.dtype, item.shape)
            start = end
        return inputs
    sizes = [(i.name, i.binary_size) for i in request.inputs if i.binary_size is not None]
    blobs = v2_binary.take_blobs(sizes, rest) if sizes or rest else {}
    return {item.name: decode_input(item, blobs.get(item.name)) for item in request.inputs}


#: numeric dtypes orjson writes straight from a contiguous array (float16 and big-endian ones need
#: tolist; an integer kind orjson does not take goes through ``dump_json``'s fallback)
_NATIVE_JSON = {np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                                       np.uint8, np.uint16, np.uint32, np.uint64, np.bool_)}  # fmt: skip


def json_data(array: np.ndarray, name: str) -> Any:
    """The flat JSON ``data`` of an output array (BYTES as UTF-8 text)."""
    flat = array.reshape(-1)
    if flat.dtype in _NATIVE_JSON:
        return np.ascontiguousarray(flat)
    if flat.dtype == object or flat.dtype.kind in "SU":
        values = []
        for value in flat.tolist():
            if isinstance(value, bytes):
                try:
                    value = value.decode()
                except UnicodeDecodeError:
                    raise InvalidArgument(
                        f"output {name!r} holds bytes that are not UTF-8; ask for it as binary data "
                        '(parameters: {"binary_data": true})'
                    ) from None
            values.append(value if isinstance(value, str) else str(value))
        return values
    return flat.tolist()


def encode_response(
    model_name: str,
    version: int,
    request: V2Request,
    outputs: dict[str, np.ndarray],
    classes: ClassNames | None = None,
) -> tuple[dict[str, Any], list[bytes]]:
    """(JSON response, binary blobs in output order) for the outputs of one inference; an output
    asked for with the classification extension is answered as its top-k strings."""
    wanted = {o.name: o for o in request.outputs} if request.outputs else None
    default_binary = request.binary_output_default
    items = []
    blobs: list[bytes] = []
    for name, array in outputs.items():
        binary = default_binary
        if wanted is not None:
            spec = wanted.get(name)
            if spec is not None and spec.binary is not None:
                binary = spec.binary
            if spec is not None and spec.classification is not None:
                names = classification.names_for(classes, name)
                array = classification.triton_strings(array, spec.classification, names, name)
        item: dict[str, Any] = {
            "name": name,
            "datatype": dtypes.from_numpy(array.dtype).v2_name,
            "shape": list(array.shape),
        }
        if binary:
            blob = v2_binary.to_raw(array)
            blobs.append(blob)
            item["parameters"] = {"binary_data_size": len(blob)}
        else:
            item["data"] = json_data(array, name)
        items.append(item)
    response: dict[str, Any] = {"model_name": model_name, "model_version": str(version), "outputs": items}
    if request.id is not None:
        response["id"] = request.id
    return response, blobs
