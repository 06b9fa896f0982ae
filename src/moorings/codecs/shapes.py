"""Bounds on the shapes clients declare, checked before anything is sized by them."""

from __future__ import annotations

import math
from collections.abc import Sequence

from moorings.errors import InvalidArgument

#: numpy's limit on dimensions; TensorFlow, ONNX Runtime and scikit-learn models use far fewer
MAX_DIMS = 64
#: the most elements one tensor may declare
MAX_ELEMENTS = 1 << 31


def check_shape(shape: Sequence[int], where: str) -> tuple[int, ...]:
    """``shape`` as a tuple when its rank, dimensions and element count are within bounds."""
    if len(shape) > MAX_DIMS:
        raise InvalidArgument(
            f"{where}: the shape has {len(shape)} dimensions; at most {MAX_DIMS} are served"
        )
    if any(d < 0 for d in shape):
        raise InvalidArgument(f"{where}: shape {list(shape)} has a negative dimension")
    if math.prod(shape) > MAX_ELEMENTS:
        raise InvalidArgument(f"{where}: shape {list(shape)} has too many elements")
    return tuple(shape)
