"""Dimensionality reduction: a truncated SVD projection fitted with numpy, and what it costs in recall.

The projection is centred (PCA): ``reduced = (x - mean) @ components.T``. For inner product and
cosine, centring shifts every score for a query by the same amount, so the neighbour order on the
reduced space approximates the original; stores always re-rank candidates on the full vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from moorings.search.types import Vectors

MAX_FIT_ROWS = 50_000


@dataclass(frozen=True)
class Projection:
    mean: Vectors  # (dim,)
    components: Vectors  # (reduce_to, dim), orthonormal rows

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    def apply(self, vectors: Vectors) -> Vectors:
        return np.ascontiguousarray((vectors - self.mean) @ self.components.T, dtype=np.float32)

    def to_bytes(self) -> bytes:
        return np.concatenate([self.mean[None, :], self.components]).astype(np.float32).tobytes()

    @staticmethod
    def from_bytes(data: bytes, dim: int) -> Projection:
        array = np.frombuffer(data, dtype=np.float32).reshape(-1, dim)
        return Projection(mean=array[0].copy(), components=array[1:].copy())


def fit(vectors: Vectors, reduce_to: int, seed: int = 0) -> Projection:
    """Fit on (a sample of at most 50k of) the rows; works with fewer rows than dimensions too."""
    rng = np.random.default_rng(seed)
    sample = (
        vectors
        if len(vectors) <= MAX_FIT_ROWS
        else vectors[rng.choice(len(vectors), MAX_FIT_ROWS, replace=False)]
    )
    sample64 = sample.astype(np.float64)
    mean = sample64.mean(axis=0)
    _, _, vt = np.linalg.svd(sample64 - mean, full_matrices=False)
    components = np.zeros((reduce_to, vectors.shape[1]), dtype=np.float64)
    take = min(reduce_to, vt.shape[0])
    components[:take] = vt[:take]
    return Projection(mean=mean.astype(np.float32), components=components.astype(np.float32))


def exact_neighbours(data: Vectors, queries: Vectors, k: int, metric: str) -> np.ndarray:
    """Row numbers of the exact k nearest rows for each query (the ground truth for recall)."""
    if metric == "l2":
        scores = -(
            (queries**2).sum(axis=1, keepdims=True) - 2 * queries @ data.T + (data**2).sum(axis=1)[None, :]
        )
    else:
        scores = queries @ data.T
    k = min(k, data.shape[0])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of the true neighbours found (rows of row numbers; -1 never matches)."""
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / float(truth.size)


def reduced_recall(
    vectors: Vectors, projection: Projection, metric: str, k: int = 10, rerank: int = 100, queries: int = 200
) -> float:
    """recall@k of searching the reduced space for ``rerank`` candidates and re-ranking them exactly,
    against exact search on the full vectors, on queries drawn from the data itself."""
    rng = np.random.default_rng(1)
    n = len(vectors)
    pick = rng.choice(n, min(queries, n), replace=False)
    q = vectors[pick]
    truth = exact_neighbours(vectors, q, k, metric)
    reduced = projection.apply(vectors)
    rq = projection.apply(q)
    cand = exact_neighbours(reduced, rq, min(rerank, n), "l2")
    found = np.empty((len(q), min(k, n)), dtype=np.int64)
    for i, rows in enumerate(cand):
        local = exact_neighbours(vectors[rows], q[i : i + 1], k, metric)[0]
        found[i] = rows[local]
    return recall(found, truth)
