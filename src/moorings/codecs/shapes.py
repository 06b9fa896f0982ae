"""Bounds on the shapes clients declare, checked before anything is sized by them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from moorings.errors import InvalidArgument

#: numpy's limit on dimensions; TensorFlow, ONNX Runtime and scikit-learn models use far fewer
MAX_DIMS = 64
#: the most elements one tensor may declare
MAX_ELEMENTS = 1 << 31


def too_many_elements(shape: Sequence[int]) -> bool:
    """Whether the dimensions other than 0 multiply past ``MAX_ELEMENTS``.

    A zero dimension makes the element count 0, but numpy still refuses (ValueError) a shape
    whose other dimensions multiply past its index range, so those are bounded too.
    """
    return math.prod(d for d in shape if d) > MAX_ELEMENTS


def check_shape(shape: Sequence[int], where: str) -> tuple[int, ...]:
    """``shape`` as a tuple when its rank, dimensions and element count are within bounds."""
    if len(shape) > MAX_DIMS:
        raise InvalidArgument(
            f"{where}: the shape has {len(shape)} dimensions; at most {MAX_DIMS} are served"
        )
    count = 1  # too_many_elements, in the same loop (no generator per request)
    for d in shape:
        if d < 0:
            raise InvalidArgument(f"{where}: shape {list(shape)} has a negative dimension")
        if d:
            count *= d
    if count > MAX_ELEMENTS:
        raise InvalidArgument(f"{where}: shape {list(shape)} has too many elements")
    return tuple(shape)
