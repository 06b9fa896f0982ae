"""The generate extension's JSON: inputs by name with the batch dimension added, flat answers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from moorings import dtypes
from moorings.codecs.generate_json import check_body, decode_inputs, encode_result
from moorings.errors import InvalidArgument
from moorings.requests import PredictResult
from moorings.types import ServableId, Signature, TensorSpec

SIGNATURE = Signature(
    "serving_default",
    {
        "text": TensorSpec("text", dtypes.STRING, (-1,)),
        "x": TensorSpec("x", dtypes.FLOAT32, (-1, 2)),
    },
    {"out": TensorSpec("out", dtypes.STRING, (-1,))},
)


def test_values_without_the_batch_dimension_get_one() -> None:
    inputs = decode_inputs({"text": "hi", "x": [1, 2], "parameters": {}}, SIGNATURE)
    assert inputs["text"].shape == (1,) and inputs["text"][0] == b"hi"
    assert inputs["x"].dtype == np.float32 and inputs["x"].shape == (1, 2)
    batched = decode_inputs({"text": ["a", "b"], "x": [[1, 2], [3, 4]]}, SIGNATURE)
    assert batched["x"].shape == (2, 2)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "hi"}, "missing input(s) 'x'"),
        ({"text": "hi", "x": [1, 2], "y": 3}, "unknown input(s) 'y'"),
        ({"text": "hi", "x": ["a", "b"]}, "input 'x'"),
    ],
)
def test_bad_inputs_are_named(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        decode_inputs(body, SIGNATURE)
    assert message in error.value.message


@pytest.mark.parametrize(
    ("body", "message"), [([1], "JSON object"), ({"id": 3}, "'id'"), ({"parameters": [1]}, "'parameters'")]
)
def test_bad_bodies_are_refused(body: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        check_body(body)


def test_an_answer_is_flat_and_drops_the_added_dimension() -> None:
    result = PredictResult(
        ServableId("writer", 3),
        SIGNATURE,
        {"out": np.array([b"word"], dtype=object), "scores": np.array([[0.5, 0.25]], np.float32)},
    )
    answer = encode_result(result, "r7")
    assert answer["model_name"] == "writer" and answer["model_version"] == "3" and answer["id"] == "r7"
    assert answer["out"] == "word"
    assert list(answer["scores"]) == [0.5, 0.25]
