"""Checks of decoded inputs and requested outputs against a signature."""

from __future__ import annotations

import numpy as np
import pytest

from moorings.dataplane.inputs import check_inputs, drop_trailing_ones, lift_trailing_ones, select_outputs
from moorings.dtypes import from_numpy
from moorings.errors import InvalidArgument
from moorings.types import Signature, TensorSpec

F32 = from_numpy(np.dtype(np.float32))
SIGNATURE = Signature(
    "serving_default",
    {"a": TensorSpec("a", F32, (-1, 3)), "b": TensorSpec("b", F32, (-1, 3))},
    {"sum": TensorSpec("sum", F32, (-1, 3)), "product": TensorSpec("product", F32, (-1, 3))},
)


def rows(n: int) -> np.ndarray:
    return np.zeros((n, 3), np.float32)


def test_inputs_that_fit_pass() -> None:
    check_inputs(SIGNATURE, {"a": rows(2), "b": rows(2)}, same_batch=True)
    check_inputs(SIGNATURE, {"a": rows(2), "b": rows(5)})  # columnar: row counts may differ


@pytest.mark.parametrize(
    ("inputs", "same_batch", "message"),
    [
        ({"a": rows(1)}, False, "missing input(s) 'b'; the signature 'serving_default' takes: a, b"),
        ({"a": rows(1), "b": rows(1), "c": rows(1)}, False, "unknown input 'c'"),
        ({"a": np.zeros((1, 4), np.float32), "b": rows(1)}, False, "has shape [1, 4] but the signature"),
        ({"a": np.zeros(3, np.float32), "b": rows(1)}, False, "'a' has shape [3]"),
        ({"a": rows(2), "b": rows(3)}, True, "every input needs the same number of rows (a: 2, b: 3)"),
    ],
)
def test_inputs_that_do_not_fit_are_named(
    inputs: dict[str, np.ndarray], same_batch: bool, message: str
) -> None:
    with pytest.raises(InvalidArgument) as error:
        check_inputs(SIGNATURE, inputs, same_batch)
    assert message in error.value.message


def test_select_outputs() -> None:
    assert select_outputs(SIGNATURE, None, "outputs") is None
    assert select_outputs(SIGNATURE, ("product",), "outputs") == ["product"]
    assert select_outputs(SIGNATURE, ("product", "sum"), "outputs") == ["product", "sum"]
    with pytest.raises(
        InvalidArgument, match=r"output_filter names unknown output\(s\) 'zz'; .* has: sum, product"
    ):
        select_outputs(SIGNATURE, ("sum", "zz"), "output_filter")


def test_an_output_asked_for_twice_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"outputs names output\(s\) 'sum' more than once"):
        select_outputs(SIGNATURE, ("sum", "product", "sum"), "outputs")


def test_trailing_ones_are_lifted_and_dropped() -> None:
    column = Signature("s", {"x": TensorSpec("x", F32, (-1, 1))}, {"y": TensorSpec("y", F32, (-1, 1))})
    flat = np.arange(3, dtype=np.float32)
    inputs, added = lift_trailing_ones(column, {"x": flat})
    assert added == 1 and inputs["x"].shape == (3, 1)
    assert drop_trailing_ones({"y": inputs["x"]}, added)["y"].shape == (3,)
    same, added = lift_trailing_ones(column, {"x": flat.reshape(3, 1)})
    assert added == 0 and same["x"].shape == (3, 1)
    _, added = lift_trailing_ones(SIGNATURE, {"a": flat, "b": flat})  # [-1, 3]: 3 is not a 1
    assert added == 0
