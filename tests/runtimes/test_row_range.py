from __future__ import annotations

import numpy as np
import pytest

from moorings.errors import InvalidArgument
from moorings.runtimes.row_range import RowRange, run_rows
from moorings.types import Tensors


def recording(sizes: list[int], low: int, high: int | None):  # type: ignore[no-untyped-def]
    """A row-wise model (x -> x * 2, row sums) that refuses sizes outside [low, high]."""

    def run(inputs: Tensors) -> Tensors:
        x = inputs["x"]
        n = x.shape[0]
        assert n >= low and (high is None or n <= high), n
        sizes.append(n)
        return {"double": x * 2, "total": x.sum(axis=1) + inputs["y"][:, 0]}

    return run


@pytest.mark.parametrize(
    ("rows", "low", "high", "calls"),
    [
        (5, 0, None, [5]),
        (5, 1, 1, [1, 1, 1, 1, 1]),
        (7, 1, 3, [3, 3, 1]),
        (7, 2, 3, [3, 3, 2]),  # the last row is padded to the lower bound
        (1, 4, 8, [4]),
        (9, 4, 4, [4, 4, 4]),
    ],
)
def test_calls_stay_in_range_and_answers_match_the_rows(
    rows: int, low: int, high: int | None, calls: list[int]
) -> None:
    x = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
    y = np.arange(rows, dtype=np.float32).reshape(rows, 1) * 10
    sizes: list[int] = []
    out = run_rows(recording(sizes, low, high), {"x": x, "y": y}, RowRange(low, high))
    assert sizes == calls
    np.testing.assert_array_equal(out["double"], x * 2)
    np.testing.assert_array_equal(out["total"], x.sum(axis=1) + y[:, 0])


def test_no_rows_for_a_model_that_needs_some() -> None:
    with pytest.raises(InvalidArgument, match="at least 1 row"):
        run_rows(recording([], 1, 1), {"x": np.zeros((0, 3)), "y": np.zeros((0, 1))}, RowRange(1, 1))


def test_inputs_with_different_row_counts() -> None:
    with pytest.raises(InvalidArgument, match="same number of rows"):
        run_rows(recording([], 1, 1), {"x": np.zeros((2, 3)), "y": np.zeros((3, 1))}, RowRange(1, 1))
