"""KServe V2 JSON requests and responses."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from moorings.codecs import v2_binary, v2_json
from moorings.errors import InvalidArgument
from moorings.rest.http import dump_json

EMPTY = memoryview(b"")


def test_flat_and_nested_data_decode_alike() -> None:
    flat = v2_json.parse_request(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3, 4]}]}
    )
    nested = v2_json.parse_request(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3, 4]]}]}
    )
    for request in (flat, nested):
        x = v2_json.decode_inputs(request, EMPTY)["x"]
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, [[1, 2], [3, 4]])


def test_every_datatype_decodes() -> None:
    cases = {
        "BOOL": [True, False],
        "UINT8": [0, 255],
        "INT8": [-128, 127],
        "INT16": [-5, 5],
        "UINT16": [0, 65535],
        "INT32": [-(2**31), 1],
        "UINT32": [0, 2**32 - 1],
        "INT64": [-(2**62), 1],
        "UINT64": [0, 2**63],
        "FP16": [0.5, -1.5],
        "FP32": [0.25, 1e10],
        "FP64": [1e-300, 2.5],
        "BYTES": ["ab", "héllo"],
    }
    inputs = [{"name": k, "datatype": k, "shape": [2], "data": v} for k, v in cases.items()]
    decoded = v2_json.decode_inputs(v2_json.parse_request({"inputs": inputs}), EMPTY)
    for name, values in cases.items():
        got = decoded[name]
        expected = [v.encode() for v in values] if name == "BYTES" else values
        assert got.tolist() == expected, name


def test_binary_inputs_take_their_blobs_in_order() -> None:
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = np.array([b"x", b"yz"], dtype=object)
    blobs = v2_binary.to_raw(a) + v2_binary.to_raw(t)
    request = v2_json.parse_request(
        {
            "inputs": [
                {"name": "a", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}},
                {"name": "n", "datatype": "INT64", "shape": [1], "data": [3]},
                {"name": "t", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 11}},
            ]
        }
    )
    decoded = v2_json.decode_inputs(request, memoryview(blobs))
    np.testing.assert_array_equal(decoded["a"], a)
    assert decoded["t"].tolist() == [b"x", b"yz"] and decoded["n"].tolist() == [3]


@pytest.mark.parametrize(
    ("datatype", "array"),
    [
        ("FP32", np.arange(6, dtype=np.float32).reshape(2, 3)),
        ("INT64", np.array([[-(2**40), 7, 0]], dtype=np.int64)),
        ("BYTES", np.array([[b"ab", b""], [b"\xff", b"cd"]], dtype=object)),
    ],
)
def test_a_lone_binary_input_keeps_its_dtype_and_shape(datatype: str, array: np.ndarray) -> None:
    raw = v2_binary.to_raw(array)
    header = {"name": "x", "datatype": datatype, "shape": list(array.shape)}
    request = v2_json.parse_request({"inputs": [{**header, "parameters": {"binary_data_size": len(raw)}}]})
    got = v2_json.decode_inputs(request, memoryview(raw))["x"]
    assert got.shape == array.shape
    assert got.tolist() == array.tolist()
    if datatype != "BYTES":
        assert got.dtype == array.dtype


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"inputs": []}, "'inputs' must be a non-empty list"),
        ({"inputs": [{"datatype": "FP32"}]}, r"inputs\[0\] must be an object with a 'name'"),
        ({"inputs": [{"name": "x", "datatype": "FP8", "shape": [1], "data": [1]}]}, "unsupported datatype"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1], "data": [1]}]}, "non-negative"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}, "has no 'data'"),
        (
            {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1], "parameters": 3}]},
            "'parameters' must be an object",
        ),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "id": 5}, "'id'"),
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "outputs": 1}, "outputs"),
    ],
)
def test_malformed_requests(body: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        v2_json.parse_request(body)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3]}, r"holds 3 values but shape \[2, 2\]"),
        ({"datatype": "FP32", "shape": [1], "data": ["a"]}, "expected float32 values, got strings"),
        ({"datatype": "INT8", "shape": [1], "data": [300]}, "out of range for int8"),
        ({"datatype": "BOOL", "shape": [1], "data": [1]}, "expected booleans"),
    ],
)
def test_data_that_does_not_fit(item: dict[str, object], message: str) -> None:
    request = v2_json.parse_request({"inputs": [{"name": "x", **item}]})
    with pytest.raises(InvalidArgument, match=message):
        v2_json.decode_inputs(request, EMPTY)


def test_response_json_and_binary_outputs() -> None:
    outputs = {
        "p": np.array([[0.25, 0.75]], dtype=np.float32),
        "label": np.array([b"cat"], dtype=object),
        "h": np.array([1.5], dtype=np.float16),
    }
    request = v2_json.parse_request(
        {
            "id": "r1",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}],
            "outputs": [{"name": "p", "parameters": {"binary_data": True}}, {"name": "label"}, {"name": "h"}],
        }
    )
    response, blobs = v2_json.encode_response("m", 3, request, outputs)
    assert response["model_name"] == "m" and response["model_version"] == "3" and response["id"] == "r1"
    p, label, h = response["outputs"]
    assert p == {"name": "p", "datatype": "FP32", "shape": [1, 2], "parameters": {"binary_data_size": 8}}
    assert blobs == [outputs["p"].tobytes()]
    assert label == {"name": "label", "datatype": "BYTES", "shape": [1], "data": ["cat"]}
    assert h["data"] == [1.5] and h["datatype"] == "FP16"


@pytest.mark.parametrize(
    "dtype",
    ["<f4", ">f4", "<f8", "<f2", "i1", "<i2", "<i4", "<i8", ">i8", "q", "u1", "<u2", "<u4", "<u8", "Q", "?"],
)
def test_json_numbers_of_every_numeric_dtype(dtype: str) -> None:
    """Whether orjson writes the array itself or a list, the JSON holds the same numbers, row-major."""
    values = np.array([[0, 1, 2], [3, 4, 5]]).astype(dtype)
    for array in (values, values[:, ::2], values.T):  # contiguous, strided, transposed
        data = orjson.loads(dump_json({"data": v2_json.json_data(array, "y")}))["data"]
        assert data == array.reshape(-1).tolist(), (dtype, array.strides)


def test_binary_data_output_makes_every_output_binary() -> None:
    request = v2_json.parse_request(
        {
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}],
            "parameters": {"binary_data_output": True},
        }
    )
    response, blobs = v2_json.encode_response("m", 1, request, {"y": np.array([b"ab"], dtype=object)})
    assert response["outputs"][0]["parameters"] == {"binary_data_size": 6}
    assert blobs == [b"\x02\x00\x00\x00ab"]


def test_non_utf8_output_needs_binary() -> None:
    request = v2_json.parse_request(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}
    )
    with pytest.raises(InvalidArgument, match="'raw' holds bytes that are not UTF-8"):
        v2_json.encode_response("m", 1, request, {"raw": np.array([b"\xff"], dtype=object)})
