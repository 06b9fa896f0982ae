"""Clustered synthetic embeddings: recall on uniform noise says nothing about an ANN index."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def clustered(
    n: int, dim: int, clusters: int = 50, spread: float = 1.0, seed: int = 0
) -> npt.NDArray[np.float32]:
    """``n`` float32 vectors around ``clusters`` Gaussian centres (unit variance; noise ``spread``)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    noise = rng.standard_normal((n, dim)).astype(np.float32) * spread
    return np.ascontiguousarray(centres[labels] + noise, dtype=np.float32)


def queries_near(data: npt.NDArray[np.float32], count: int, seed: int = 1) -> npt.NDArray[np.float32]:
    """Queries drawn like the data: items of the collection plus a little noise."""
    rng = np.random.default_rng(seed)
    picks = data[rng.choice(len(data), count, replace=False)]
    return np.ascontiguousarray(picks + rng.standard_normal(picks.shape).astype(np.float32) * 0.1)
