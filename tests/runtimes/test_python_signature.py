"""A Python model's signature from model.toml's tables or the class's attributes."""

from __future__ import annotations

from typing import Any

import pytest

from moorings import dtypes
from moorings.errors import LoadError
from moorings.runtimes.python_signature import declared_signature


class Declared:
    inputs = {"x": {"dtype": "FP32", "shape": [-1, 4]}}
    outputs = {"label": {"dtype": "string", "shape": [-1]}}


class Undeclared:
    pass


def test_class_attributes_with_v2_or_moorings_dtype_names() -> None:
    signature = declared_signature({}, {}, Declared)
    assert signature.inputs["x"].dtype is dtypes.FLOAT32 and signature.inputs["x"].shape == (-1, 4)
    assert signature.outputs["label"].dtype is dtypes.STRING


def test_model_toml_is_used_over_the_class() -> None:
    toml = {"text": {"dtype": "string", "shape": [-1]}}
    signature = declared_signature(toml, {"n": {"dtype": "int64", "shape": [-1, 1]}}, Declared)
    assert list(signature.inputs) == ["text"] and list(signature.outputs) == ["n"]


def test_nothing_declared_says_how_to_declare() -> None:
    with pytest.raises(LoadError, match=r"\[inputs.x\]"):
        declared_signature({}, {}, Undeclared)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"dtype": "float99", "shape": [-1]}, "needs a dtype"),
        ({"dtype": "float32"}, "needs a shape"),
        ({"dtype": "float32", "shape": [-1, 0]}, "needs a shape"),
        ({"dtype": "float32", "shape": [-1, True]}, "needs a shape"),
    ],
)
def test_bad_declarations_name_the_tensor(table: dict[str, Any], message: str) -> None:
    with pytest.raises(LoadError, match=message) as error:
        declared_signature({"x": table}, {"y": {"dtype": "float32", "shape": [-1]}}, Undeclared)
    assert "'x'" in error.value.message
