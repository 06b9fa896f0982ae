"""A FAISS index over row numbers: exact (flat), HNSW or IVF, with defaults tuned for recall.

Labels are row numbers of the owning store. Rows that are deleted or filtered out are excluded
with an ``IDSelectorBitmap``. Scores: higher is nearer (inner product, or negated squared L2).

Defaults (measured on clustered data, see tests/search/test_recall.py): HNSW M=32,
efConstruction=80, efSearch=max(160, 2k) (recall@10 0.98 at 100k x 384, 0.94 with 96), 384 from
250,000 items (160 gave 0.89 at 1M x 128, 384 gives 0.965);
IVF nlist≈4·√n, nprobe=max(16, nlist/32).
"""

from __future__ import annotations

import math
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from moorings.search.types import Vectors

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 160
#: from this many items, HNSW searches with HNSW_EF_SEARCH_LARGE: on clustered 1M x 128 data,
#: efSearch 160 gives recall@10 0.889, 256 0.939, 384 0.965, 512 0.976 (benchmarks/search/RESULTS.md)
HNSW_LARGE = 250_000
HNSW_EF_SEARCH_LARGE = 384
#: collections with at least this many items get an ANN index when the index kind is "auto"
ANN_THRESHOLD = 50_000

Labels = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


def choose_kind(kind: str, rows: int, threshold: int = ANN_THRESHOLD) -> str:
    if kind != "auto":
        return kind
    return "hnsw" if rows >= threshold else "flat"


def hnsw_ef_search(k: int, rows: int) -> int:
    """The HNSW search effort for ``k`` neighbours in an index of ``rows`` items."""
    return max(HNSW_EF_SEARCH if rows < HNSW_LARGE else HNSW_EF_SEARCH_LARGE, 2 * k)


def ivf_lists(rows: int) -> int:
    return max(1, min(65536, int(4 * math.sqrt(max(rows, 1))), rows // 39 or 1))


class AnnIndex:
    """One FAISS index; ``inner_product`` picks IP (cosine, ip) or L2."""

    def __init__(self, kind: str, dim: int, inner_product: bool, index: Any = None) -> None:
        self.kind = kind
        self.dim = dim
        self.inner_product = inner_product
        self.index: Any = index

    @property
    def ntotal(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    def _metric(self) -> int:
        return int(faiss.METRIC_INNER_PRODUCT if self.inner_product else faiss.METRIC_L2)

    def build(self, vectors: Vectors) -> None:
        """A fresh index over ``vectors`` (rows 0..n-1)."""
        index: Any
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, HNSW_M, self._metric())
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        elif self.kind == "ivf":
            nlist = ivf_lists(len(vectors))
            quantizer = faiss.IndexFlatIP(self.dim) if self.inner_product else faiss.IndexFlatL2(self.dim)
            index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, self._metric())
            index.cp.seed = 1234
            if len(vectors):
                index.train(vectors)
            index.nprobe = max(16, nlist // 32)
            self._quantizer = quantizer  # keep it alive beside the index
        else:
            index = faiss.IndexFlatIP(self.dim) if self.inner_product else faiss.IndexFlatL2(self.dim)
        self.index = index
        if len(vectors):
            index.add(vectors)

    @property
    def trained(self) -> bool:
        return self.index is not None and bool(self.index.is_trained)

    def add(self, vectors: Vectors) -> None:
        self.index.add(vectors)

    def search(
        self, queries: Vectors, k: int, allowed: npt.NDArray[np.bool_] | None
    ) -> tuple[Scores, Labels]:
        params: Any = None
        selector: Any = None
        bitmap: Any = None
        if allowed is not None:
            bitmap = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            params.efSearch = hnsw_ef_search(k, self.ntotal)
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF()
            params.nprobe = self.index.nprobe
        elif selector is not None:
            params = faiss.SearchParameters()
        if params is not None and selector is not None:
            params.sel = selector
        scores, labels = self.index.search(queries, k, params=params)
        del bitmap  # the selector points into it until here
        if not self.inner_product:
            scores = -scores
        return scores, labels

    def serialize(self) -> bytes:
        data: bytes = faiss.serialize_index(self.index).tobytes()
        return data

    @staticmethod
    def load(kind: str, dim: int, inner_product: bool, data: bytes) -> AnnIndex:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        return AnnIndex(kind, dim, inner_product, index)
