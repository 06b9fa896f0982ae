"""Request and response shapes from the examples in TensorFlow Serving's REST API documentation."""

import base64

import numpy as np
import orjson
import pytest

from moorings import dtypes
from moorings.codecs import tfserving_json as tfjson
from moorings.errors import InvalidArgument
from moorings.types import Signature, TensorSpec

DOC_SIGNATURE = Signature(
    "serving_default",
    {
        "tag": TensorSpec("tag", dtypes.STRING, (-1,)),
        "signal": TensorSpec("signal", dtypes.FLOAT32, (-1, 5)),
        "sensor": TensorSpec("sensor", dtypes.FLOAT32, (-1, 2, 2)),
    },
    {"out": TensorSpec("out", dtypes.FLOAT32, (-1,))},
)

ROW_DOC = {
    "instances": [
        {"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
        {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]},
    ]
}
COLUMNAR_DOC = {
    "inputs": {
        "tag": ["foo", "bar"],
        "signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]],
        "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]],
    }
}


def _decode(body: dict) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    return tfjson.decode_inputs(tfjson.parse_predict_body(body), DOC_SIGNATURE)


def test_row_and_columnar_documentation_examples_decode_the_same() -> None:
    rows, columns = _decode(ROW_DOC), _decode(COLUMNAR_DOC)
    for name in ("tag", "signal", "sensor"):
        np.testing.assert_array_equal(rows[name], columns[name])
    assert rows["tag"].tolist() == [b"foo", b"bar"]
    assert rows["signal"].dtype == np.float32 and rows["signal"].shape == (2, 5)
    assert rows["sensor"].shape == (2, 2, 2)


def test_b64_values_decode_to_bytes() -> None:
    signature = Signature("s", {"image": TensorSpec("image", dtypes.STRING, (-1,))}, {})
    raw = bytes(range(256))
    body = {"instances": [{"b64": base64.b64encode(raw).decode()}, {"b64": "aGVsbG8="}]}
    inputs = tfjson.decode_inputs(tfjson.parse_predict_body(body), signature)
    assert inputs["image"].tolist() == [raw, b"hello"]


def test_single_output_row_response_is_a_list_per_instance() -> None:
    out = tfjson.encode_rows({"scores": np.array([[0.5, 0.25], [0.125, 1.0]], np.float32)})
    assert orjson.loads(orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)) == {
        "predictions": [[0.5, 0.25], [0.125, 1.0]]
    }


def test_multi_output_row_response_is_an_object_per_instance() -> None:
    out = tfjson.encode_rows(
        {"label": np.array([1, 2]), "name_bytes": np.array([b"\xff", b"ok"], dtype=object)}
    )
    assert orjson.loads(orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)) == {
        "predictions": [
            {"label": 1, "name_bytes": {"b64": base64.b64encode(b"\xff").decode()}},
            {"label": 2, "name_bytes": {"b64": base64.b64encode(b"ok").decode()}},
        ]
    }


def test_columnar_response_names_outputs_only_when_several() -> None:
    single = tfjson.encode_columns({"y": np.array([1.5], np.float32)})
    assert orjson.loads(orjson.dumps(single, option=orjson.OPT_SERIALIZE_NUMPY)) == {"outputs": [1.5]}
    multi = tfjson.encode_columns({"a": np.array([1]), "t": np.array([b"x"], dtype=object)})
    assert orjson.loads(orjson.dumps(multi, option=orjson.OPT_SERIALIZE_NUMPY)) == {
        "outputs": {"a": [1], "t": ["x"]}
    }


def test_rows_with_different_batch_sizes_need_the_columnar_format() -> None:
    with pytest.raises(InvalidArgument, match="columnar"):
        tfjson.encode_rows({"a": np.zeros(2), "b": np.zeros(3)})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "exactly one of"),
        ({"instances": [], "inputs": {}}, "exactly one of"),
        ({"instances": []}, "empty"),
        ({"instances": {"a": 1}}, "list"),
        ({"instances": [1], "signature_name": 3}, "signature_name"),
        ([1, 2], "JSON object"),
    ],
)
def test_malformed_bodies_are_named(body: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        tfjson.parse_predict_body(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": {"tag": ["a"], "nope": [1]}}, "unknown input 'nope'"),
        ({"inputs": {"tag": ["a"], "signal": [[1, 2], [3]]}}, "'signal' is ragged"),
        ({"inputs": {"tag": [1], "signal": [[1]]}}, "'tag': expected strings"),
        ({"inputs": {"tag": ["a"], "signal": [["x"]]}}, "'signal': expected float32"),
        ({"inputs": {"tag": [{"b64": "!!"}]}}, "invalid base64"),
        ({"instances": [{"tag": "a"}, {"signal": [1]}]}, "instance 1 names other inputs"),
        ({"instances": [1, 2]}, "3 inputs"),
    ],
)
def test_bad_values_name_the_input(body: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidArgument, match=message):
        _decode(body)


def test_integer_inputs_reject_fractions_and_overflow() -> None:
    int8 = dtypes.by_name("int8")
    signature = Signature("s", {"i": TensorSpec("i", int8, (-1,))}, {})
    good = tfjson.decode_inputs(tfjson.parse_predict_body({"inputs": [1.0, -3]}), signature)
    assert good["i"].dtype == np.int8
    with pytest.raises(InvalidArgument, match="non-integers"):
        tfjson.decode_inputs(tfjson.parse_predict_body({"inputs": [1.5]}), signature)
    with pytest.raises(InvalidArgument, match="out of range"):
        tfjson.decode_inputs(tfjson.parse_predict_body({"inputs": [300]}), signature)


def test_examples_merge_the_context() -> None:
    name, examples = tfjson.parse_examples(
        {"signature_name": "c", "context": {"lang": "en"}, "examples": [{"x": 1}, {"x": 2, "lang": "fr"}]}
    )
    assert name == "c"
    assert examples == [{"lang": "en", "x": 1}, {"lang": "fr", "x": 2}]


def test_longlong_outputs_are_written() -> None:
    from moorings.rest.http import dump_json

    out = tfjson.encode_rows({"label": np.array([1, 2], dtype=np.longlong), "p": np.zeros((2, 1))})
    assert orjson.loads(dump_json(out)) == {
        "predictions": [{"label": 1, "p": [0.0]}, {"label": 2, "p": [0.0]}]
    }
