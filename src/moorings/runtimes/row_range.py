"""Run a model whose batch dimension only takes sizes in ``[low, high]`` on any number of rows.

A TFLite model converted with a fixed batch of one takes exactly one row per call
(``low = high = 1``); a ``torch.export`` program may bound its dynamic batch
(``Dim("batch", min=2, max=64)``). Moorings advertises a free batch dimension for
both, so the batcher can group requests, and this module fits each call to the
model: more rows than ``high`` run in chunks of ``high``; a chunk of fewer rows
than ``low`` is padded with copies of its last row, whose outputs are dropped.
Rows are independent in a batched model (the batcher relies on it too), so the
answers are those of the rows alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from moorings.errors import InvalidArgument
from moorings.types import Tensors


@dataclass(frozen=True)
class RowRange:
    """The batch sizes a model accepts in one call; ``high`` None: no upper bound."""

    low: int = 0
    high: int | None = None

    def fits(self, rows: int) -> bool:
        return rows >= self.low and (self.high is None or rows <= self.high)


def run_rows(run: Callable[[Tensors], Tensors], inputs: Tensors, rows: RowRange) -> Tensors:
    """``run`` on ``inputs`` (all sharing their leading dimension), called only with sizes in ``rows``."""
    n = _row_count(inputs)
    if rows.fits(n):
        return run(inputs)
    if n == 0:
        raise InvalidArgument(f"this model takes at least {rows.low} row(s) per call; the request has none")
    step = rows.high if rows.high is not None else n
    parts: list[Tensors] = []
    for start in range(0, n, step):
        chunk = {name: value[start : start + step] for name, value in inputs.items()}
        size = min(step, n - start)
        if size < rows.low:
            chunk = {name: _pad(value, rows.low) for name, value in chunk.items()}
        out = run(chunk)
        parts.append({name: value[:size] for name, value in out.items()})
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _row_count(inputs: Tensors) -> int:
    counts = {value.shape[0] if value.ndim else -1 for value in inputs.values()}
    if len(counts) != 1 or -1 in counts:
        raise InvalidArgument("every input must have the same number of rows (its first dimension)")
    return counts.pop()


def _pad(value: np.ndarray, size: int) -> np.ndarray:
    """``value`` with its last row repeated until it has ``size`` rows."""
    extra = np.repeat(value[-1:], size - value.shape[0], axis=0)
    return np.concatenate([value, extra])
