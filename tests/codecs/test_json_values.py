"""Numbers that would be read wrong are refused, naming the input and the element, on every JSON path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pytest

from moorings import dtypes
from moorings.codecs import json_fast, v2_json
from moorings.codecs import tfserving_json as tfjson
from moorings.codecs.json_values import to_array
from moorings.errors import InvalidArgument
from moorings.types import Signature, TensorSpec

F16, I32, U8 = dtypes.by_name("float16"), dtypes.by_name("int32"), dtypes.by_name("uint8")


def _signature(dtype: dtypes.DType) -> Signature:
    return Signature(
        "serving_default", {"x": TensorSpec("x", dtype, (-1, 2))}, {"y": TensorSpec("y", dtype, (-1,))}
    )


def _general(body: bytes) -> Any:
    return orjson.loads(body)


def _fast(body: bytes) -> Any:
    parsed = json_fast.parse_leading_array(body)
    return orjson.loads(body) if parsed is None else parsed


PATHS: dict[str, Callable[[bytes], Any]] = {"orjson": _general, "fast": _fast}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("body", "dtype", "message"),
    [
        # the exact bodies of issue 20 #9
        (
            b'{"instances": [[1, true]]}',
            dtypes.FLOAT32,
            "input 'x': expected float32 values, got a boolean at [0, 1]",
        ),
        (
            b'{"instances": [[3.5e38, 1]]}',
            dtypes.FLOAT32,
            "input 'x': the value 3.5e+38 at [0, 0] is out of range",
        ),
        (
            b'{"instances": [[1, -3.5e38]]}',
            dtypes.FLOAT32,
            "the value -3.5e+38 at [0, 1] is out of range for float32",
        ),
        (b'{"instances": [[1, 2], [false, 3]]}', I32, "expected int32 values, got a boolean at [1, 0]"),
        (b'{"instances": [[1.5, true]]}', dtypes.FLOAT64, "got a boolean at [0, 1]"),
        (b'{"instances": [[1, 70000]]}', F16, "the value 70000"),
        (b'{"instances": [[1, 300]]}', U8, "the value 300 at [0, 1] is out of range for uint8"),
        (b'{"inputs": {"x": [[1, 1e39]]}}', dtypes.FLOAT32, "input 'x': the value 1e+39 at [0, 1]"),
        (
            b'{"inputs": {"x": [[1, true]]}}',
            dtypes.FLOAT32,
            "input 'x': expected float32 values, got a boolean",
        ),
    ],
)
def test_tfserving_bodies_are_refused(path: str, body: bytes, dtype: dtypes.DType, message: str) -> None:
    request = tfjson.parse_predict_body(PATHS[path](body))
    with pytest.raises(InvalidArgument) as caught:
        tfjson.decode_inputs(request, _signature(dtype))
    assert message in str(caught.value)


def _v2_fast(body: bytes) -> Any:
    parsed = json_fast.parse_v2_data_arrays(body)
    return orjson.loads(body) if parsed is None else parsed


@pytest.mark.parametrize("parse", [_general, _v2_fast])
@pytest.mark.parametrize(
    ("data", "datatype", "message"),
    [
        (b"[1, true]", "FP32", "input 'x': expected float32 values, got a boolean at [1]"),
        (b"[3.5e38, 1]", "FP32", "input 'x': the value 3.5e+38 at [0] is out of range for float32"),
        (b"[[1], [70000]]", "FP16", "input 'x': the value 70000"),
        (b"[1, -129]", "INT8", "input 'x': the value -129 at [1] is out of range for int8"),
        (b"[true, 2]", "INT64", "got a boolean at [0]"),
    ],
)
def test_v2_data_is_refused(parse: Callable[[bytes], Any], data: bytes, datatype: str, message: str) -> None:
    body = b'{"inputs": [{"name": "x", "datatype": "%s", "shape": [2], "data": %s}]}' % (
        datatype.encode(),
        data,
    )
    request = v2_json.parse_request(parse(body))
    with pytest.raises(InvalidArgument) as caught:
        v2_json.decode_input(request.inputs[0], None)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "dtype", "want"),
    [
        (
            [[3.4028234663852886e38, -3.4028235677973362e38]],
            dtypes.FLOAT32,
            np.float32(3.4028234663852886e38),
        ),
        ([65519.0, -65504], dtypes.by_name("float16"), np.float16(65504)),
        ([[1e300, 1]], dtypes.FLOAT64, 1e300),
        ([[0, 255]], dtypes.by_name("uint8"), 255),
        ([True, False], dtypes.BOOL, True),
    ],
)
def test_values_at_the_edge_of_the_range_are_kept(value: Any, dtype: dtypes.DType, want: Any) -> None:
    for given in (value, np.asarray(value, dtype=np.float64)):
        if dtype.is_bool and isinstance(given, np.ndarray):
            continue
        array = to_array(given, dtype, "input 'x'")
        assert array.dtype == dtype.numpy and np.all(np.isfinite(array))
        assert abs(array).max() == want


def test_first_bool_with_and_without_the_c_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    values: list[Any] = [[1, 2], [3, [4, False]], True]
    assert json_fast.first_bool(values) == (1, 1, 1)
    assert json_fast.first_bool([[1.0, 2], []]) is None
    monkeypatch.setattr(json_fast, "_jsonnum", None)  # a build without a C compiler: the Python walk
    assert json_fast.first_bool(values) == (1, 1, 1)
    assert json_fast.first_bool([[1.0, 2], []]) is None
