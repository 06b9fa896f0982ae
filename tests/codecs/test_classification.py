"""Ranking scores and naming classes: the pure functions every front end calls."""

from __future__ import annotations

import numpy as np
import pytest

from moorings import dtypes
from moorings.codecs import classification as c
from moorings.errors import InvalidArgument
from moorings.types import ClassNames, Signature, TensorSpec


def test_top_k_orders_by_score_then_index_and_puts_nan_last() -> None:
    rows = np.array([[0.1, 0.5, 0.5, np.nan, 0.2]])
    indices, scores = c.top_k(rows, 5)
    assert indices.tolist() == [[1, 2, 4, 0, 3]]
    assert scores[0, :4].tolist() == [0.5, 0.5, 0.2, 0.1] and np.isnan(scores[0, 4])


def test_triton_strings_shape_and_form() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]], dtype=np.float32)
    named = c.triton_strings(scores, 2, ("a", "b"), "p")  # fewer names than classes
    assert named.shape == (2, 2)
    assert named.tolist() == [[b"0.700000:1:b", b"0.200000:2"], [b"0.600000:0:a", b"0.300000:1:b"]]
    flat = c.triton_strings(np.array([3, 9, 1], dtype=np.int64), 9, None, "p")
    assert flat.shape == (3,) and flat.tolist() == [b"9.000000:1", b"3.000000:0", b"1.000000:2"]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([b"a"], dtype=object), "output 'p' holds object values; only numbers can be ranked"),
        (np.float32(1.0).reshape(()), "output 'p' is a scalar"),
    ],
)
def test_what_cannot_be_ranked(array: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        c.triton_strings(array, 1, None, "p")


@pytest.mark.parametrize(("value", "flag", "k"), [(3, False, 3), (True, True, c.DEFAULT_TOP_K), (7, True, 7)])
def test_check_k(value: object, flag: bool, k: int) -> None:
    assert c.check_k(value, "k", flag) == k


@pytest.mark.parametrize("value", [0, -1, True, 1.0, "2", None, c.MAX_TOP_K + 1])
def test_check_k_refuses(value: object) -> None:
    with pytest.raises(InvalidArgument, match="k must be a positive integer"):
        c.check_k(value, "k")


def _signature(*names: str) -> Signature:
    spec = {n: TensorSpec(n, dtypes.FLOAT32, (-1, 3)) for n in names}
    return Signature("serving_default", {}, spec)


def test_ranked_output_choice() -> None:
    probs = np.zeros((2, 3), np.float32)
    ids = np.zeros((2,), np.int64)
    assert c.ranked_output(_signature("p", "ids"), {"p": probs, "ids": ids}, None) == "p"
    with pytest.raises(InvalidArgument, match=r"has 0 \(none\)"):  # a value per row is not classes
        c.ranked_output(_signature("v"), {"v": np.zeros(3, np.float32)}, None)
    two = {"p": probs, "q": probs}
    assert c.ranked_output(_signature("p", "q"), two, ClassNames((), "q")) == "q"
    with pytest.raises(InvalidArgument, match=r"has 2 \(p, q\): name the one to rank"):
        c.ranked_output(_signature("p", "q"), two, None)
    with pytest.raises(InvalidArgument, match=r"'r' \(model.toml \[classes\] output\), is not an output"):
        c.ranked_output(_signature("p", "q"), two, ClassNames(("a",), "r"))


def test_top_k_rows_and_named_classes() -> None:
    rows = c.top_k_rows(np.array([[0.2, 0.8]]), 5, ("no", "yes"), "p")
    assert rows == [
        {
            "label": "yes",
            "confidence": 0.8,
            "index": 1,
            "top_k": [
                {"label": "yes", "confidence": 0.8, "index": 1},
                {"label": "no", "confidence": 0.2, "index": 0},
            ],
        }
    ]
    assert c.named_classes([["0", "1", "2"]], ("a", "b")) == [["a", "b", "2"]]


def test_names_belong_to_the_output_model_toml_gives_them_to() -> None:
    assert c.names_for(None, "p") is None
    assert c.names_for(ClassNames(("a",)), "p") == ("a",)
    assert c.names_for(ClassNames(("a",), "p"), "p") == ("a",)
    assert c.names_for(ClassNames(("a",), "p"), "q") is None
    assert c.names_for(ClassNames((), "p"), "p") is None
